package broker

// ListOffsets: v1-8.
//
// Per partition: timestamp -2 is the log start offset (earliest), -1 the
// high watermark (latest; for read_committed the last stable offset, before
// the earliest transaction still open, 01_fetch.go), -3 the record with the largest
// timestamp (v7+), -4 the earliest local offset (v8+; everything is local, so
// the log start offset), and a timestamp >= 0 the first offset whose
// timestamp is at or after it (offset -1 when none). -3 before v7 and -4
// before v8 are UNSUPPORTED_VERSION, other negative timestamps
// INVALID_REQUEST. The leader epoch is 0; a greater current_leader_epoch is
// UNKNOWN_LEADER_EPOCH. v0 (old-style offset lists) is not offered. Each
// topic needs DESCRIBE (TOPIC_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiListOffsets = 2

func init() {
	register(api{key: apiListOffsets, minVersion: 1, maxVersion: 8, handle: (*Broker).handleListOffsets})
}

// Special timestamps of ListOffsets.
const (
	listOffsetsLatest        = -1
	listOffsetsEarliest      = -2
	listOffsetsMaxTimestamp  = -3
	listOffsetsEarliestLocal = -4
)

func (b *Broker) handleListOffsets(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	memo := make(map[string]topicLookup)
	resp.Topics = make([]kmsg.ListOffsetsResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ListOffsetsResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			sp := &st.Partitions[j]
			*sp = kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			tp, code := b.authorizedPartition(ctx, r, memo, acl.OpDescribe, "list offsets", rt.Topic, rp.Partition)
			if code == 0 && req.Version >= 4 {
				code = b.leaderEpochError(rp.CurrentLeaderEpoch)
			}
			if code != 0 {
				sp.ErrorCode = code
				continue
			}
			var offset, timestamp int64 = -1, -1
			var err error
			switch ts := rp.Timestamp; {
			case ts == listOffsetsLatest:
				offset, err = b.latestOffset(ctx, tp, req.IsolationLevel == isolationReadCommitted)
			case ts == listOffsetsEarliest || ts == listOffsetsEarliestLocal && req.Version >= 8:
				offset, _, err = b.cfg.Log.Offsets(ctx, tp)
			case ts == listOffsetsMaxTimestamp && req.Version >= 7:
				offset, timestamp, err = b.cfg.Log.MaxTimestamp(ctx, tp)
			case ts == listOffsetsMaxTimestamp || ts == listOffsetsEarliestLocal:
				sp.ErrorCode = kerr.UnsupportedVersion.Code
				continue
			case ts < 0:
				sp.ErrorCode = kerr.InvalidRequest.Code
				continue
			default:
				offset, timestamp, err = b.cfg.Log.OffsetForTime(ctx, tp, ts)
			}
			if err != nil {
				sp.ErrorCode = b.storageError(ctx, r, "list offsets", err)
				continue
			}
			if offset < 0 {
				offset, timestamp = -1, -1
			}
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = offset, timestamp, b.view().Epoch()
		}
	}
	return resp, nil
}

// latestOffset is the high watermark, or for read_committed the last
// stable offset.
func (b *Broker) latestOffset(ctx context.Context, tp storage.TopicPartition, committed bool) (int64, error) {
	ts := b.txnStore()
	if committed && ts != nil {
		unstable, err := ts.FirstUnstableOffset(ctx, tp)
		if err != nil {
			return -1, err
		}
		_, end, err := b.cfg.Log.Offsets(ctx, tp)
		return stableOffset(unstable, end), err
	}
	_, end, err := b.cfg.Log.Offsets(ctx, tp)
	return end, err
}
