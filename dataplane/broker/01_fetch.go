package broker

// Fetch: v4-16 (topic ids from v13).
//
// A long poll: partitions are read, and unless min_bytes are there (or a
// partition failed) the request waits for a commit to any of them (storage
// Log.Watch), for max_wait_ms, or for the connection to close, then reads
// again. max_bytes bounds the response and partition_max_bytes each
// partition, except that the first batch of the first partition with data
// is always returned whole so a consumer makes progress (Kafka's rule).
// Each partition answers its high watermark, last stable offset and log
// start offset; a fetch offset outside the log is OFFSET_OUT_OF_RANGE.
// read_committed consumers (isolation level 1) get records below the last
// stable offset only — the first offset of the earliest transaction still
// open in the partition, else the high watermark — and the aborted
// transactions (producer id, first offset) whose data the records hold, so
// that they drop it; both come from the transactional index in the
// metadata DB (storage.Transactions). read_uncommitted consumers get every
// record, and a last stable offset equal to the high watermark. Fetch sessions (KIP-227) are not kept: full fetches
// (session epoch 0 or -1) are answered with session id 0, which tells the
// client none was created; an incremental fetch gets
// FETCH_SESSION_ID_NOT_FOUND and the client starts over with a full one.
// There is one replica, so the preferred read replica is always -1. A
// partition another broker of the cell leads is NOT_LEADER_OR_FOLLOWER, and
// the leader epoch is the membership generation (routing.go; 0 for a broker
// alone): a greater current_leader_epoch is UNKNOWN_LEADER_EPOCH, a smaller
// one FENCED_LEADER_EPOCH.
// Quotas (quotas.go, limits.go): the record bytes returned count against
// the principal's consumer_byte_rate and the cluster's egress byte rate;
// over either, the response carries throttle_time_ms and the connection is
// muted for it (KIP-219), and a fetch arriving while still over quota gets
// an empty answer with the throttle. max_bytes is capped at what one quota
// window allows, as Kafka does.
//
// Each topic needs READ (TOPIC_AUTHORIZATION_FAILED), checked before the
// topic is looked up by name, and after it is found by id (an unknown id is
// UNKNOWN_TOPIC_ID whoever asks).

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiFetch = 1

func init() {
	register(api{key: apiFetch, minVersion: 4, maxVersion: 16, handle: (*Broker).handleFetch})
}

// noRecords is an empty record set: null would be valid by the protocol's
// schema, but librdkafka rejects it ("invalid MessageSetSize -1") and Kafka
// never sends it.
var noRecords = []byte{}

// isolationReadCommitted is the IsolationLevel of read_committed consumers.
const isolationReadCommitted = 1

// fetchPartition is one partition of a fetch and the place of its answer.
type fetchPartition struct {
	tp       storage.TopicPartition
	offset   int64
	maxBytes int32
	// committed: read_committed, reading below the last stable offset.
	committed bool
	out       *kmsg.FetchResponseTopicPartition
}

func (b *Broker) handleFetch(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.SessionEpoch > 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}

	quotas := b.quotas.byteWindows(ctx, r, b.limits(r.cluster()), false)
	if throttle := b.quotas.throttleOf(quotas); throttle > 0 {
		// Over quota already: an empty answer with the throttle, as Kafka
		// gives, rather than data the client may not have yet.
		r.throttle = throttle
		return resp, nil
	}
	maxBytes := b.quotas.maxBytes(quotas, req.MaxBytes)

	parts, failed := b.resolveFetch(ctx, r, req, resp)
	deadline := time.Now().Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)
	var n int64
	for {
		// Watch before reading, so a commit between the read and the
		// wait still wakes us.
		var watches []<-chan struct{}
		if !failed && time.Now().Before(deadline) {
			for _, p := range parts {
				watches = append(watches, b.cfg.Log.Watch(p.tp))
			}
		}
		var readFailed bool
		n, readFailed = b.readFetch(ctx, r, parts, maxBytes)
		if failed || readFailed || n >= int64(req.MinBytes) || len(watches) == 0 {
			break
		}
		waitStart := time.Now()
		woken := waitAny(ctx, watches, deadline)
		r.idle += time.Since(waitStart)
		if !woken {
			if err := ctx.Err(); err != nil {
				return nil, err // the connection is closing
			}
			break // max wait reached
		}
	}
	if req.IsolationLevel == isolationReadCommitted {
		for _, p := range parts {
			if p.out.AbortedTransactions == nil {
				p.out.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			}
		}
	}
	b.meter.Add(r.cluster(), r.principal.Name, 0, n, 0)
	for _, p := range parts {
		b.topics.out(r.cluster(), p.tp.Topic, len(p.out.RecordBatches))
	}
	r.throttle = max(r.throttle, b.quotas.recordAndThrottle(quotas, float64(n)))
	return resp, nil
}

// resolveFetch builds the response skeleton and returns the partitions to
// read; failed reports that some partition is answered with an error
// already, so the fetch must not wait.
func (b *Broker) resolveFetch(ctx context.Context, r *request, req *kmsg.FetchRequest, resp *kmsg.FetchResponse) (parts []*fetchPartition, failed bool) {
	byID := req.Version >= 13
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var topic storage.Topic
		var err error
		readable := true
		switch {
		case byID:
			topic, err = b.cfg.Catalog.TopicByID(ctx, r.cluster(), rt.TopicID)
			readable = err != nil || b.allowed(ctx, r, acl.ResourceTopic, topic.Name, acl.OpRead)
		case !b.allowed(ctx, r, acl.ResourceTopic, rt.Topic, acl.OpRead):
			readable = false
		default:
			topic, err = b.cfg.Catalog.Topic(ctx, r.cluster(), rt.Topic)
		}
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			sp := &st.Partitions[j]
			*sp = kmsg.NewFetchResponseTopicPartition()
			sp.Partition, sp.HighWatermark = rp.Partition, -1
			sp.RecordBatches = noRecords
			switch {
			case !readable:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case err != nil && byID && errorCode(err) == kerr.UnknownTopicOrPartition.Code:
				sp.ErrorCode = kerr.UnknownTopicID.Code
			case err != nil:
				sp.ErrorCode = b.storageError(ctx, r, "fetch: topic", err)
			case rp.Partition < 0 || rp.Partition >= topic.Partitions:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !b.leads(storage.TopicPartition{Cluster: r.cluster(), Topic: topic.Name, Partition: rp.Partition}):
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			case req.Version >= 9 && b.leaderEpochError(rp.CurrentLeaderEpoch) != 0:
				sp.ErrorCode = b.leaderEpochError(rp.CurrentLeaderEpoch)
			}
			if sp.ErrorCode != 0 {
				failed = true
				continue
			}
			parts = append(parts, &fetchPartition{
				tp:        storage.TopicPartition{Cluster: r.cluster(), Topic: topic.Name, Partition: rp.Partition},
				offset:    rp.FetchOffset,
				maxBytes:  rp.PartitionMaxBytes,
				committed: req.IsolationLevel == isolationReadCommitted,
				out:       sp,
			})
		}
	}
	return parts, failed
}

// readFetch reads every partition into its answer, within the
// byte limits, and returns the bytes read and whether a read failed.
func (b *Broker) readFetch(ctx context.Context, r *request, parts []*fetchPartition, maxBytes int32) (total int64, failed bool) {
	remaining := int64(maxBytes)
	for _, p := range parts {
		out := p.out
		out.RecordBatches = noRecords
		limit := min(int64(p.maxBytes), remaining)
		// The first unstable offset is read before the records: data of a
		// transaction ended since is then below it with its abort (if
		// any) already indexed.
		unstable, err := b.firstUnstable(ctx, p)
		if err != nil {
			out.ErrorCode, failed = b.storageError(ctx, r, "fetch: last stable offset", err), true
			out.HighWatermark, out.LastStableOffset, out.LogStartOffset = -1, -1, -1
			continue
		}
		if total > 0 && limit <= 0 {
			// The response is full: report the offsets only.
			start, end, err := b.cfg.Log.Offsets(ctx, p.tp)
			if err != nil {
				out.ErrorCode, failed = b.storageError(ctx, r, "fetch: offsets", err), true
				out.HighWatermark, out.LastStableOffset, out.LogStartOffset = -1, -1, -1
				continue
			}
			out.ErrorCode, out.HighWatermark, out.LastStableOffset, out.LogStartOffset = 0, end, stableOffset(unstable, end), start
			continue
		}
		res, err := b.cfg.Log.Read(ctx, p.tp, p.offset, int32(max(limit, 0)))
		if err != nil {
			out.ErrorCode, failed = b.storageError(ctx, r, "fetch: read", err), true
			out.HighWatermark, out.LastStableOffset, out.LogStartOffset = -1, -1, -1
			continue
		}
		out.ErrorCode = 0
		out.HighWatermark, out.LastStableOffset, out.LogStartOffset = res.HighWatermark, res.LastStableOffset, res.LogStartOffset
		if p.committed {
			out.LastStableOffset = stableOffset(unstable, res.HighWatermark)
			res.Records = batchesBelow(res.Records, out.LastStableOffset)
			if out.AbortedTransactions, err = b.abortedIn(ctx, p, out.LastStableOffset, len(res.Records) > 0); err != nil {
				out.ErrorCode, failed = b.storageError(ctx, r, "fetch: aborted transactions", err), true
				out.HighWatermark, out.LastStableOffset, out.LogStartOffset = -1, -1, -1
				continue
			}
		}
		n := int64(len(res.Records))
		if total > 0 && n > limit {
			continue // only the first partition with data may overflow
		}
		if n > 0 {
			out.RecordBatches = res.Records
		}
		total += n
		remaining -= n
	}
	return total, failed
}

// waitAny waits until one of chans is closed (true), or the deadline passes
// or ctx is done (false).
func waitAny(ctx context.Context, chans []<-chan struct{}, deadline time.Time) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	woken := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	for _, ch := range chans {
		go func() {
			select {
			case <-ch:
				select {
				case woken <- struct{}{}:
				default:
				}
			case <-stop:
			}
		}()
	}
	select {
	case <-woken:
		return true
	case <-timer.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// firstUnstable is the first offset of the earliest transaction open in a
// read_committed fetch's partition; -1 when none, or when the fetch is
// read_uncommitted or transactions are not kept.
func (b *Broker) firstUnstable(ctx context.Context, p *fetchPartition) (int64, error) {
	ts := b.txnStore()
	if !p.committed || ts == nil {
		return -1, nil
	}
	return ts.FirstUnstableOffset(ctx, p.tp)
}

// stableOffset is the last stable offset given the first unstable one and
// the high watermark.
func stableOffset(unstable, highWatermark int64) int64 {
	if unstable >= 0 && unstable < highWatermark {
		return unstable
	}
	return highWatermark
}

// abortedIn lists the aborted transactions a read_committed consumer must
// drop among records from the fetch offset up to stable.
func (b *Broker) abortedIn(ctx context.Context, p *fetchPartition, stable int64, any bool) ([]kmsg.FetchResponseTopicPartitionAbortedTransaction, error) {
	ts := b.txnStore()
	if ts == nil || !any {
		return nil, nil
	}
	aborted, err := ts.AbortedTransactions(ctx, p.tp, p.offset, stable)
	if err != nil {
		return nil, err
	}
	out := make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, 0, len(aborted))
	for _, a := range aborted {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
		out = append(out, at)
	}
	return out, nil
}

// batchesBelow cuts records (whole v2 batches with their offsets) before the
// first batch starting at or after offset.
func batchesBelow(records []byte, offset int64) []byte {
	pos := 0
	for pos+batchLengthOverhead <= len(records) {
		base := int64(binary.BigEndian.Uint64(records[pos:]))
		size := batchLengthOverhead + int(int32(binary.BigEndian.Uint32(records[pos+batchOffLength:])))
		if base >= offset || size < batchLengthOverhead || pos+size > len(records) {
			break
		}
		pos += size
	}
	return records[:pos]
}
