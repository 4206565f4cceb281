package groups

// TxnOffsetCommit (key 28), v0-3: offsets a transactional producer commits
// for a group inside its transaction (KIP-98, KIP-447). The coordinator
// checks the committer as for OffsetCommit — from v3 the member id and
// generation of a consumer of the group, before that nothing of the
// member — and hands the offsets to stage, which keeps them apart until
// the transaction ends; they become the group's committed offsets only if
// it commits. Whether the producer's transaction is ongoing with the group
// added, and whether the topics exist and may be read, are the broker's
// checks, made before calling here.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnOffsetCommit checks the committer of req and passes its offsets to
// stage, whose error code (0: staged) answers them all.
func (c *Coordinator) TxnOffsetCommit(ctx context.Context, cluster string, req *kmsg.TxnOffsetCommitRequest,
	stage func(ctx context.Context, offsets []CommittedOffset) int16) *kmsg.TxnOffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	resp.Version = req.Version
	resp.Topics = make([]kmsg.TxnOffsetCommitResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		rt.Partitions = make([]kmsg.TxnOffsetCommitResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			rt.Partitions[j].Partition = p.Partition
		}
	}
	setAll := func(code int16) {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
	}
	if !c.coordinates(cluster, req.Group) || !c.enter() {
		setAll(kerr.NotCoordinator.Code)
		return resp
	}
	defer c.leave()
	if code := c.checkTxnOffsetCommit(ctx, cluster, req); code != 0 {
		setAll(code)
		return resp
	}

	now := c.clock.now().UnixMilli()
	var offsets []CommittedOffset
	var written []*kmsg.TxnOffsetCommitResponseTopicPartition
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			rp := &resp.Topics[i].Partitions[j]
			metadata := derefString(p.Metadata)
			switch {
			case t.Topic == "" || p.Partition < 0:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case len(metadata) > c.opts.OffsetMetadataMaxBytes:
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			default:
				offsets = append(offsets, CommittedOffset{Topic: t.Topic, Partition: p.Partition, Offset: p.Offset,
					LeaderEpoch: p.LeaderEpoch, Metadata: metadata, CommitTime: now})
				written = append(written, rp)
			}
		}
	}
	if len(offsets) == 0 {
		return resp
	}
	if code := stage(ctx, offsets); code != 0 {
		for _, rp := range written {
			rp.ErrorCode = code
		}
	}
	return resp
}

// checkTxnOffsetCommit decides whether the committer may commit to the
// group: a member of its current generation when it says who it is (v3+),
// as OffsetCommit checks; anyone otherwise, as Kafka lets producers that
// predate KIP-447 commit.
func (c *Coordinator) checkTxnOffsetCommit(ctx context.Context, cluster string, req *kmsg.TxnOffsetCommitRequest) int16 {
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	if req.Version < 3 || (req.Generation < 0 && req.MemberID == "" && req.InstanceID == nil) {
		_, code := c.loadedCluster(ctx, cluster)
		return code
	}
	// Checked as an OffsetCommit v9 would be, where the generation of a
	// consumer (KIP-848) group's member is its member epoch, as Kafka
	// reads TxnOffsetCommit's generation for those groups.
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version = 9
	commit.Group, commit.Generation, commit.MemberID, commit.InstanceID = req.Group, req.Generation, req.MemberID, req.InstanceID
	_, code := c.checkOffsetCommit(ctx, cluster, commit)
	return code
}
