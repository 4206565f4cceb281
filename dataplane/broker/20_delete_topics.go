package broker

// DeleteTopics: v0-6.
//
// Deletes topics of the principal's cluster by name, or from v6 by name or
// id (exactly one of them: else INVALID_REQUEST). An unknown name is
// UNKNOWN_TOPIC_OR_PARTITION, an unknown id UNKNOWN_TOPIC_ID. The data goes
// asynchronously (storage). Committed group offsets of the topic are left to
// the group coordinator's own expiry.
//
// Over the principal's controller_mutation_rate (each partition deleted
// counts), v5+ requests get THROTTLING_QUOTA_EXCEEDED for the topics
// beyond, older ones a throttle (KIP-599).
//
// Each topic needs DELETE (TOPIC_AUTHORIZATION_FAILED, whether it exists or
// not); one named by id also DESCRIBE, without which its name is not
// answered.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiDeleteTopics = 20

func init() {
	register(api{key: apiDeleteTopics, minVersion: 0, maxVersion: 6, lane: laneAdmin, handle: (*Broker).handleDeleteTopics})
}

func (b *Broker) handleDeleteTopics(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	targets := req.Topics
	if req.Version < 6 {
		targets = make([]kmsg.DeleteTopicsRequestTopic, len(req.TopicNames))
		for i, name := range req.TopicNames {
			targets[i].Topic = kmsg.StringPtr(name)
		}
	}
	resp.Topics = make([]kmsg.DeleteTopicsResponseTopic, len(targets))
	mutations := b.mutationQuota(ctx, r, req.Version >= 5)
	for i, rt := range targets {
		st := &resp.Topics[i]
		*st = kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		byID := rt.TopicID != [16]byte{}
		switch {
		case (rt.Topic == nil) == !byID:
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = errMessage("name a topic either by name or by id")
		case byID:
			t, err := b.cfg.Catalog.TopicByID(ctx, r.cluster(), rt.TopicID)
			if err != nil {
				st.ErrorCode = b.storageError(ctx, r, "delete topic: by id", err)
				if st.ErrorCode == kerr.UnknownTopicOrPartition.Code {
					st.ErrorCode = kerr.UnknownTopicID.Code
				}
				break
			}
			if !b.allowed(ctx, r, acl.ResourceTopic, t.Name, acl.OpDescribe) {
				st.ErrorCode = kerr.TopicAuthorizationFailed.Code
				break
			}
			st.Topic = kmsg.StringPtr(t.Name)
			if !b.allowed(ctx, r, acl.ResourceTopic, t.Name, acl.OpDelete) {
				st.ErrorCode = kerr.TopicAuthorizationFailed.Code
				break
			}
			st.ErrorCode, st.ErrorMessage = b.deleteTopic(ctx, r, t, mutations)
		case !b.allowed(ctx, r, acl.ResourceTopic, *rt.Topic, acl.OpDelete):
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
		default:
			t, err := b.cfg.Catalog.Topic(ctx, r.cluster(), *rt.Topic)
			if err != nil {
				st.ErrorCode = b.storageError(ctx, r, "delete topic: by name", err)
				break
			}
			st.TopicID = t.ID
			st.ErrorCode, st.ErrorMessage = b.deleteTopic(ctx, r, t, mutations)
		}
		if st.Topic == nil && req.Version < 6 {
			st.Topic = kmsg.StringPtr("")
		}
	}
	return resp, nil
}

func (b *Broker) deleteTopic(ctx context.Context, r *request, t storage.Topic, mutations *mutationQuota) (int16, *string) {
	if ce := mutations.exceeded(); ce != nil {
		return ce.code, errMessage(ce.msg)
	}
	if err := b.cfg.Catalog.DeleteTopic(ctx, r.cluster(), t.Name); err != nil {
		return b.storageError(ctx, r, "delete topic", err), nil
	}
	mutations.record(t.Partitions)
	b.log.Info("topic deleted", "cluster", r.cluster(), "topic", t.Name)
	return 0, nil
}
