package broker

// Metadata: v0-12.
//
// Describes the live brokers of the cell (routing.go; this broker alone
// without Config.Membership), this one at the advertised address or the
// one the client reached, the others at their registered addresses. Each
// partition's leader, and only replica, is the broker placement names, at
// the membership generation as leader epoch (0 for a broker alone). Topics
// are the principal's cluster's only, with their topic ids (v10+); the
// cluster id is the tenant's cluster id. All topics are listed for a null topic list (or an empty one at v0).
// Topics may be asked by name or, from v10, by id (UNKNOWN_TOPIC_ID when
// unknown). An unknown topic is created only when the broker allows
// auto-creation (off by default) and the request does (v4+; implied
// before), with the default partition count; invalid names are
// INVALID_TOPIC_EXCEPTION. Authorized operations (v8+) are reported when
// asked.
//
// Authorization, Kafka's: the topic list holds only topics the principal
// may DESCRIBE; a topic named without DESCRIBE is TOPIC_AUTHORIZATION_FAILED
// whether it exists or not, one named by id is UNKNOWN_TOPIC_ID when
// unknown and TOPIC_AUTHORIZATION_FAILED (without its name) when not
// describable; auto-creation needs CREATE on the cluster or the topic, else
// TOPIC_AUTHORIZATION_FAILED. Cluster authorized operations need DESCRIBE
// on the cluster (0 otherwise).

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/membership"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiMetadata = 3

func init() {
	register(api{key: apiMetadata, minVersion: 0, maxVersion: 12, handle: (*Broker).handleMetadata})
}

func (b *Broker) handleMetadata(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	view := b.view()
	for _, mb := range b.listedBrokers(view) {
		broker := kmsg.NewMetadataResponseBroker()
		broker.NodeID = mb.NodeID
		broker.Host, broker.Port = b.endpointOf(r, mb)
		if mb.Rack != "" {
			broker.Rack = kmsg.StringPtr(mb.Rack)
		}
		resp.Brokers = append(resp.Brokers, broker)
	}
	resp.ClusterID = kmsg.StringPtr(r.cluster())
	resp.ControllerID = b.cfg.NodeID
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = b.clusterAuthorizedOps(ctx, r)
	}

	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		topics, err := b.cfg.Catalog.Topics(ctx, r.cluster())
		if err != nil {
			// No error field before v13: an empty list would read as
			// "every topic is gone". Closing makes the client retry.
			return nil, fmt.Errorf("list topics of %s: %w", r.cluster(), err)
		}
		for _, t := range topics {
			if b.allowed(ctx, r, acl.ResourceTopic, t.Name, acl.OpDescribe) {
				resp.Topics = append(resp.Topics, b.metadataTopic(ctx, r, t, view, req.IncludeTopicAuthorizedOperations))
			}
		}
		return resp, nil
	}

	seen := make(map[string]bool)
	for _, rt := range req.Topics {
		var t storage.Topic
		var err error
		switch {
		case rt.Topic != nil:
			if seen[*rt.Topic] {
				continue
			}
			seen[*rt.Topic] = true
			t, err = b.metadataTopicByName(ctx, r, req, *rt.Topic)
		case req.Version >= 10 && rt.TopicID != [16]byte{}:
			t, err = b.cfg.Catalog.TopicByID(ctx, r.cluster(), rt.TopicID)
			if err == nil && !b.allowed(ctx, r, acl.ResourceTopic, t.Name, acl.OpDescribe) {
				t, err = storage.Topic{}, errorf(kerr.TopicAuthorizationFailed.Code, "")
			}
		default:
			st := kmsg.NewMetadataResponseTopic()
			st.Topic, st.ErrorCode = kmsg.StringPtr(""), kerr.InvalidRequest.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if err == nil {
			resp.Topics = append(resp.Topics, b.metadataTopic(ctx, r, t, view, req.IncludeTopicAuthorizedOperations))
			continue
		}
		st := kmsg.NewMetadataResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var te *codeError
		switch {
		case errors.As(err, &te):
			st.ErrorCode = te.code
		case rt.Topic == nil && errorCode(err) == kerr.UnknownTopicOrPartition.Code:
			st.ErrorCode = kerr.UnknownTopicID.Code
		default:
			st.ErrorCode = b.storageError(ctx, r, "metadata", err)
		}
		if st.Topic == nil && req.Version < 12 {
			st.Topic = kmsg.StringPtr("") // not nullable before v12
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// metadataTopicByName finds a topic, creating it when auto-creation is
// allowed by both the broker and the request.
func (b *Broker) metadataTopicByName(ctx context.Context, r *request, req *kmsg.MetadataRequest, name string) (storage.Topic, error) {
	if !b.allowed(ctx, r, acl.ResourceTopic, name, acl.OpDescribe) {
		return storage.Topic{}, errorf(kerr.TopicAuthorizationFailed.Code, "")
	}
	t, err := b.cfg.Catalog.Topic(ctx, r.cluster(), name)
	if errorCode(err) != kerr.UnknownTopicOrPartition.Code {
		return t, err
	}
	if nameErr := validateTopicName(name); nameErr != nil {
		return storage.Topic{}, errorf(kerr.InvalidTopicException.Code, "%v", nameErr)
	}
	if !b.cfg.AutoCreateTopics || (req.Version >= 4 && !req.AllowAutoTopicCreation) {
		return storage.Topic{}, err
	}
	if !b.clusterAllowed(ctx, r, acl.OpCreate) && !b.allowed(ctx, r, acl.ResourceTopic, name, acl.OpCreate) {
		return storage.Topic{}, errorf(kerr.TopicAuthorizationFailed.Code, "")
	}
	t, te := b.createTopic(ctx, r, topicSpec{name: name, partitions: -1, replicationFactor: -1}, false)
	switch {
	case te == nil:
		b.log.Info("topic auto-created", "cluster", r.cluster(), "topic", name, "partitions", t.Partitions)
		return t, nil
	case te.code == kerr.TopicAlreadyExists.Code: // created meanwhile
		return b.cfg.Catalog.Topic(ctx, r.cluster(), name)
	}
	return storage.Topic{}, te
}

func (b *Broker) metadataTopic(ctx context.Context, r *request, t storage.Topic, view membership.View, includeOps bool) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	st.Topic, st.TopicID = kmsg.StringPtr(t.Name), t.ID
	if includeOps {
		st.AuthorizedOperations = b.authorizedOps(ctx, r, acl.ResourceTopic, t.Name)
	}
	st.Partitions = make([]kmsg.MetadataResponseTopicPartition, t.Partitions)
	for i := range st.Partitions {
		sp := &st.Partitions[i]
		*sp = kmsg.NewMetadataResponseTopicPartition()
		leader := b.leaderOf(view, r.cluster(), t.Name, int32(i))
		replicas := []int32{leader}
		if leader < 0 {
			// A lapsed broker that knows of no live one: the client
			// asks again, elsewhere or later.
			sp.ErrorCode, replicas = kerr.LeaderNotAvailable.Code, []int32{}
		}
		sp.Partition, sp.Leader, sp.LeaderEpoch = int32(i), leader, view.Epoch()
		sp.Replicas, sp.ISR, sp.OfflineReplicas = replicas, replicas, []int32{}
	}
	return st
}
