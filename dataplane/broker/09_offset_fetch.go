package broker

// OffsetFetch: v0-9 (many groups per request from v8).
//
// Handed to the group coordinator: committed offsets of the principal's
// cluster's groups, -1 where nothing is committed, all of a group's offsets
// for null topics (v2+). It runs in order with the connection's commits.
// v10 (topics by id) is not offered yet. With require_stable (v7+, KIP-447)
// a partition whose offset a transaction not ended yet has committed
// (TxnOffsetCommit) is UNSTABLE_OFFSET_COMMIT, which the consumer retries:
// it must not start from the offset the transaction is replacing.
//
// Each group needs DESCRIBE (GROUP_AUTHORIZATION_FAILED). Topics without
// DESCRIBE are left out of "all topics" answers and answered
// TOPIC_AUTHORIZATION_FAILED when named, as Kafka does.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
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
		if req.RequireStable {
			unstable := b.unstableOffsets(ctx, r, req.Group)
			for i := range resp.Topics {
				t := &resp.Topics[i]
				for j := range t.Partitions {
					if p := &t.Partitions[j]; unstable(t.Topic, p.Partition) && p.ErrorCode == 0 {
						p.Offset, p.ErrorCode = -1, kerr.UnstableOffsetCommit.Code
					}
				}
			}
		}
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
		if req.RequireStable && g.ErrorCode == 0 {
			unstable := b.unstableOffsets(ctx, r, g.Group)
			for i := range g.Topics {
				t := &g.Topics[i]
				for j := range t.Partitions {
					if p := &t.Partitions[j]; unstable(t.Topic, p.Partition) && p.ErrorCode == 0 {
						p.Offset, p.ErrorCode = -1, kerr.UnstableOffsetCommit.Code
					}
				}
			}
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

// unstableOffsets tells which partitions of a group have offsets staged by
// a transaction not ended yet. When that cannot be read, every partition
// is taken as unstable: the consumer retries rather than starting from an
// offset about to be replaced.
func (b *Broker) unstableOffsets(ctx context.Context, r *request, group string) func(topic string, partition int32) bool {
	ts := b.txnStore()
	if ts == nil {
		return func(string, int32) bool { return false }
	}
	pending, err := ts.PendingTxnOffsets(ctx, r.cluster(), group)
	if err != nil {
		b.storageError(ctx, r, "offset fetch: pending transactional offsets", err)
		return func(string, int32) bool { return true }
	}
	return func(topic string, partition int32) bool {
		return slices.Contains(pending, storage.TxnPartition{Topic: topic, Partition: partition})
	}
}
