package broker

// CreatePartitions: v0-3.
//
// Grows topics to a new total partition count. The count must be larger
// than the current one (INVALID_PARTITIONS otherwise, as Kafka: partitions
// are never removed) and within the per-topic maximum; explicit replica
// assignments are INVALID_REQUEST (the broker places partitions); the same
// topic twice in a request is INVALID_REQUEST for each; validate_only checks
// without changing anything. Growing past the cluster's max_partitions is
// POLICY_VIOLATION; over the principal's controller_mutation_rate, v3
// requests get THROTTLING_QUOTA_EXCEEDED, older ones a throttle (KIP-599).
// Each topic needs ALTER
// (TOPIC_AUTHORIZATION_FAILED, whether it exists or not).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiCreatePartitions = 37

func init() {
	register(api{key: apiCreatePartitions, minVersion: 0, maxVersion: 3, lane: laneAdmin, handle: (*Broker).handleCreatePartitions})
}

func (b *Broker) handleCreatePartitions(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	count := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	resp.Topics = make([]kmsg.CreatePartitionsResponseTopic, len(req.Topics))
	mutations := b.mutationQuota(ctx, r, req.Version >= 3)
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		if count[rt.Topic] > 1 {
			st.ErrorCode, st.ErrorMessage = kerr.InvalidRequest.Code, errMessage("the request names topic "+rt.Topic+" more than once")
			continue
		}
		if !b.allowed(ctx, r, acl.ResourceTopic, rt.Topic, acl.OpAlter) {
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			continue
		}
		if ce := mutations.exceeded(); ce != nil && !req.ValidateOnly {
			st.ErrorCode, st.ErrorMessage = ce.code, errMessage(ce.msg)
			continue
		}
		if ce := b.createPartitions(ctx, r, rt, req.ValidateOnly, mutations); ce != nil {
			st.ErrorCode, st.ErrorMessage = ce.code, errMessage(ce.msg)
		}
	}
	return resp, nil
}

func (b *Broker) createPartitions(ctx context.Context, r *request, rt kmsg.CreatePartitionsRequestTopic, validateOnly bool, mutations *mutationQuota) *codeError {
	t, err := b.cfg.Catalog.Topic(ctx, r.cluster(), rt.Topic)
	if err != nil {
		return errorf(b.storageError(ctx, r, "create partitions: topic", err), "topic %s: %v", rt.Topic, err)
	}
	switch {
	case rt.Count == t.Partitions:
		return errorf(kerr.InvalidPartitions.Code, "topic already has %d partitions", t.Partitions)
	case rt.Count < t.Partitions:
		return errorf(kerr.InvalidPartitions.Code, "topic currently has %d partitions, which is higher than the requested %d", t.Partitions, rt.Count)
	case len(rt.Assignment) > 0:
		return errorf(kerr.InvalidRequest.Code, "replica assignments are not supported: the broker places partitions itself")
	}
	if code, err := checkPartitionCount(rt.Count); err != nil {
		return errorf(code, "%v", err)
	}
	existing, ce := b.clusterPartitions(ctx, r)
	if ce != nil {
		return ce
	}
	if ce := b.checkPartitionLimit(r.cluster(), existing, int64(rt.Count-t.Partitions)); ce != nil {
		return ce
	}
	if validateOnly {
		return nil
	}
	if err := b.cfg.Catalog.AddPartitions(ctx, r.cluster(), rt.Topic, rt.Count); err != nil {
		return errorf(b.storageError(ctx, r, "create partitions", err), "could not add partitions")
	}
	mutations.record(rt.Count - t.Partitions)
	b.log.Info("partitions added", "cluster", r.cluster(), "topic", rt.Topic, "from", t.Partitions, "to", rt.Count)
	return nil
}
