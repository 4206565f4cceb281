package broker

// OffsetFetch: v0-9 (many groups per request from v8).
//
// Handed to the group coordinator: committed offsets of the principal's
// cluster's groups, -1 where nothing is committed, all of a group's offsets
// for null topics (v2+). It runs in order with the connection's commits.
// v10 (topics by id) is not offered yet.
//
// Each group needs DESCRIBE (GROUP_AUTHORIZATION_FAILED). Topics without
// DESCRIBE are left out of "all topics" answers and answered
// TOPIC_AUTHORIZATION_FAILED when named, as Kafka does.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiOffsetFetch = 9

func init() {
	register(api{key: apiOffsetFetch, minVersion: 0, maxVersion: 9, lane: laneGroup, handle: (*Broker).handleOffsetFetch})
}

func (b *Broker) handleOffsetFetch(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.OffsetFetchRequest)
	describable := func(topic string) bool { return b.allowed(ctx, r, acl.ResourceTopic, topic, acl.OpDescribe) }
	if req.Version < 8 {
		if !b.allowed(ctx, r, acl.ResourceGroup, req.Group, acl.OpDescribe) {
			return offsetFetchRefused(req), nil
		}
		resp := b.cfg.Groups.OffsetFetch(ctx, r.cluster(), req)
		visible := resp.Topics[:0]
		for _, t := range resp.Topics {
			switch {
			case describable(t.Topic):
			case req.Topics == nil:
				continue
			default:
				for i := range t.Partitions {
					p := &t.Partitions[i]
					p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode = -1, -1, kmsg.StringPtr(""), kerr.TopicAuthorizationFailed.Code
				}
			}
			visible = append(visible, t)
		}
		resp.Topics = visible
		return resp, nil
	}

	allowed := *req
	allowed.Groups = nil
	for _, g := range req.Groups {
		if b.allowed(ctx, r, acl.ResourceGroup, g.Group, acl.OpDescribe) {
			allowed.Groups = append(allowed.Groups, g)
		}
	}
	fetched := map[string]kmsg.OffsetFetchResponseGroup{}
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if len(allowed.Groups) > 0 {
		resp = b.cfg.Groups.OffsetFetch(ctx, r.cluster(), &allowed)
		for _, g := range resp.Groups {
			fetched[g.Group] = g
		}
	}
	resp.Groups = resp.Groups[:0]
	for _, rg := range req.Groups {
		g, ok := fetched[rg.Group]
		if !ok {
			g = kmsg.NewOffsetFetchResponseGroup()
			g.Group, g.ErrorCode = rg.Group, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, g)
			continue
		}
		visible := g.Topics[:0]
		for _, t := range g.Topics {
			switch {
			case describable(t.Topic):
			case rg.Topics == nil:
				continue
			default:
				for i := range t.Partitions {
					p := &t.Partitions[i]
					p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode = -1, -1, kmsg.StringPtr(""), kerr.TopicAuthorizationFailed.Code
				}
			}
			visible = append(visible, t)
		}
		g.Topics = visible
		resp.Groups = append(resp.Groups, g)
	}
	return resp, nil
}

// offsetFetchRefused answers a v0-7 request for a group the principal may
// not describe: the error on the response (v2+) or on every partition.
func offsetFetchRefused(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 2 {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.Metadata = p, -1, kmsg.StringPtr("")
			rp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
