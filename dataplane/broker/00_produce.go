package broker

// Produce: v3-11.
//
// Each partition must carry exactly one v2 record batch, which is validated
// before storage sees it (records.go: lengths, counts, CRC-32C, codec,
// max.message.bytes of the topic). All partitions of a request are appended
// concurrently, so one request costs one storage flush, not one per
// partition; requests of one connection are appended one after another
// (laneProduce), keeping a pipelining producer's batches in order.
// Idempotent producers' ids, epochs and sequences go to storage, which
// checks them; a duplicate batch is answered with its original offset.
// A partition another broker of the cell leads is NOT_LEADER_OR_FOLLOWER,
// which sends the producer there (routing.go says why we refuse rather than
// accept). A request with a transactional id carries transactional batches
// of the producer id and epoch its transaction has now (another id is
// INVALID_PRODUCER_ID_MAPPING, another epoch — a fenced zombie —
// INVALID_PRODUCER_EPOCH), for partitions added to its ongoing transaction
// (else INVALID_TXN_STATE, as is a transactional batch without a
// transactional id); storage then checks their sequences as for any
// idempotent producer, checks the transaction again as the batch commits
// (a batch racing the end of its transaction is refused, not left holding
// the last stable offset back) and indexes the open transaction (txn.go).
// acks must be -1, 0 or 1, all meaning durable in object storage; acks=0
// gets no response, and an error closes the connection (as Kafka does: the
// producer then refreshes its metadata). Topics using
// message.timestamp.type=LogAppendTime get the append time back.
//
// Quotas (quotas.go, limits.go): the request's size counts against the
// principal's producer_byte_rate and the cluster's ingress byte rate; over
// either, the response carries throttle_time_ms and the connection is
// muted for it. A cluster at its max_storage_bytes is refused with
// POLICY_VIOLATION; a batch above its max_message_bytes is
// MESSAGE_TOO_LARGE.
//
// Authorization: WRITE on each topic, else TOPIC_AUTHORIZATION_FAILED for
// its partitions before anything about the topic is looked up; a
// transactional produce needs WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every partition).
//
// ApiVersions advertises Produce from v0 although v0-2 (message formats 0
// and 1) are refused, as Kafka 4 does (KAFKA-18659): librdkafka before the
// fix of confluentinc/librdkafka#4956 (Debian's 2.0.2, kcat and
// confluent-kafka-python among its users) sends gzip, snappy and lz4 batches
// uncompressed to a broker whose Produce range does not include v0.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiProduce = 0

func init() {
	register(api{key: apiProduce, minVersion: 3, maxVersion: 11, advertiseV0: true, lane: laneProduce, handle: (*Broker).handleProduce})
}

// producingTxn loads the transaction a transactional produce writes in.
func (b *Broker) producingTxn(ctx context.Context, r *request, id string) (*storage.Transaction, int16, string) {
	ts := b.txnStore()
	if ts == nil {
		return nil, kerr.InvalidTxnState.Code, "transactions are not supported"
	}
	t, found, err := ts.Transaction(ctx, r.cluster(), id)
	switch {
	case err != nil:
		return nil, b.storageError(ctx, r, "produce: load transaction", err), ""
	case !found:
		return nil, kerr.InvalidProducerIDMapping.Code, "no producer has this transactional id"
	}
	return &t, 0, ""
}

// txnBatchError checks a batch against the transaction of its request
// (nil without a transactional id).
func txnBatchError(txn *storage.Transaction, batch storage.Batch, topic string, partition int32) *codeError {
	switch {
	case txn == nil && batch.Transactional:
		return errorf(kerr.InvalidTxnState.Code, "a transactional batch needs the request's transactional id")
	case txn == nil:
		return nil
	case !batch.Transactional:
		return errorf(kerr.InvalidTxnState.Code, "a request with a transactional id must carry transactional batches")
	case batch.ProducerID != txn.ProducerID:
		return errorf(kerr.InvalidProducerIDMapping.Code, "producer id %d is not the transactional id's", batch.ProducerID)
	case batch.ProducerEpoch != txn.ProducerEpoch:
		return errorf(kerr.InvalidProducerEpoch.Code, "producer epoch %d is not the current epoch", batch.ProducerEpoch)
	case txn.State != storage.TxnOngoing ||
		!slices.Contains(txn.Partitions, storage.TxnPartition{Topic: topic, Partition: partition}):
		return errorf(kerr.InvalidTxnState.Code, "the partition is not in an ongoing transaction of the producer")
	}
	return nil
}

func (b *Broker) handleProduce(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)

	// Refusals that apply to the whole request.
	var code int16
	var msg string
	switch {
	case req.TransactionID != nil && *req.TransactionID != "" &&
		!b.allowed(ctx, r, acl.ResourceTransactionalID, *req.TransactionID, acl.OpWrite):
		code = kerr.TransactionalIDAuthorizationFailed.Code
	case req.Acks != -1 && req.Acks != 0 && req.Acks != 1:
		code, msg = kerr.InvalidRequiredAcks.Code, "acks must be -1, 0 or 1"
	}
	var txn *storage.Transaction
	if code == 0 && req.TransactionID != nil && *req.TransactionID != "" {
		txn, code, msg = b.producingTxn(ctx, r, *req.TransactionID)
	}
	limits := b.limits(r.cluster())
	if code == 0 && len(req.Topics) > 0 {
		if ce := b.checkStorageLimit(ctx, r.cluster(), limits); ce != nil {
			code, msg = ce.code, ce.msg
		}
	}

	topics := make(map[string]topicLookup)
	var appends []appendJob
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		writable := code == 0 && b.allowed(ctx, r, acl.ResourceTopic, rt.Topic, acl.OpWrite)
		var topic storage.Topic
		var topicErr error
		if writable {
			topic, topicErr = b.lookupTopic(ctx, r, topics, rt.Topic)
		}
		for j, rp := range rt.Partitions {
			sp := &st.Partitions[j]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition, sp.BaseOffset = rp.Partition, -1
			switch {
			case code != 0:
				sp.ErrorCode, sp.ErrorMessage = code, errMessage(msg)
				continue
			case !writable:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			case topicErr != nil:
				sp.ErrorCode = b.storageError(ctx, r, "produce: topic", topicErr)
				continue
			case rp.Partition < 0 || rp.Partition >= topic.Partitions:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			case !b.leads(storage.TopicPartition{Cluster: r.cluster(), Topic: rt.Topic, Partition: rp.Partition}):
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				continue
			}
			batch, bad := parseProducedBatch(rp.Records, req.Version, maxMessageBytes(topic.Configs))
			if bad == nil && limits.MaxMessageBytes > 0 && len(rp.Records) > int(limits.MaxMessageBytes) {
				bad = errorf(kerr.MessageTooLarge.Code, "record batch of %d bytes exceeds the cluster's max_message_bytes %d",
					len(rp.Records), limits.MaxMessageBytes)
			}
			if bad == nil {
				bad = txnBatchError(txn, batch, rt.Topic, rp.Partition)
			}
			if bad != nil {
				sp.ErrorCode, sp.ErrorMessage = bad.code, errMessage(bad.msg)
				continue
			}
			batch.LogAppendTime = usesLogAppendTime(topic.Configs)
			if txn != nil {
				batch.TransactionalID = txn.TransactionalID
			}
			tp := storage.TopicPartition{Cluster: r.cluster(), Topic: rt.Topic, Partition: rp.Partition}
			appends = append(appends, appendJob{tp: tp, batch: batch, sp: sp})
		}
	}
	// The request's bytes count against its quotas before the batches are
	// appended: appendAll mutes the connection for the throttle before it
	// lets the next produce start.
	r.throttle = max(r.throttle, b.quotas.recordAndThrottle(b.quotas.byteWindows(ctx, r, limits, true), float64(r.size)))
	b.appendAll(ctx, r, appends)

	var accepted int64
	for i, st := range resp.Topics {
		for j, sp := range st.Partitions {
			if sp.ErrorCode == 0 {
				n := len(req.Topics[i].Partitions[j].Records)
				accepted += int64(n)
				b.topics.in(r.cluster(), st.Topic, n)
			}
		}
	}
	b.meter.Add(r.cluster(), r.principal.Name, accepted, 0, 0)

	if req.Acks == 0 {
		// No response; but like Kafka, close the connection on an
		// error, the only way to tell the producer to look again.
		for _, st := range resp.Topics {
			for _, sp := range st.Partitions {
				if sp.ErrorCode != 0 {
					return nil, fmt.Errorf("acks=0 produce to %s/%d failed: %w", st.Topic, sp.Partition, kerr.ErrorForCode(sp.ErrorCode))
				}
			}
		}
		return nil, nil
	}
	return resp, nil
}

// appendJob is one batch of a produce request and where its outcome goes.
type appendJob struct {
	tp    storage.TopicPartition
	batch storage.Batch
	sp    *kmsg.ProduceResponseTopicPartition
}

// appendAll makes the batches of a produce request durable. When the log
// can enqueue, the batches take their places in their partitions' order
// first and the connection's next produce may start at once: a producer
// pipelining requests has them all in one flush of the write buffer
// instead of one flush each, and their order is still the order they
// came in. Otherwise the batches are appended concurrently and the next
// request waits for this one.
func (b *Broker) appendAll(ctx context.Context, r *request, jobs []appendJob) {
	enq, ok := b.cfg.Log.(storage.Enqueuer)
	if !ok {
		var wg sync.WaitGroup
		for _, j := range jobs {
			wg.Go(func() {
				res, err := b.cfg.Log.Append(ctx, j.tp, j.batch)
				b.appended(ctx, r, j, res, err)
			})
		}
		wg.Wait()
		return
	}
	waits := make([]func(context.Context) (storage.AppendResult, error), len(jobs))
	for i, j := range jobs {
		wait, err := enq.Enqueue(ctx, j.tp, j.batch)
		if err != nil {
			b.appended(ctx, r, j, storage.AppendResult{}, err)
			continue
		}
		waits[i] = wait
	}
	// acks=0 keeps the lane until its batches are durable: a failure then
	// closes the connection before anything sent after it is appended, the
	// only way such a producer learns of it (as in Kafka).
	if r.body.(*kmsg.ProduceRequest).Acks != 0 {
		if r.throttle > 0 {
			// Over quota: the next produce, free to start now, waits out
			// the throttle first (afterRequest does not mute again for it).
			r.conn.mute(r.throttle)
			r.mutedEarly = r.throttle
		}
		r.releaseLane()
	}
	waited := time.Now()
	for i, j := range jobs {
		if waits[i] != nil {
			res, err := waits[i](ctx)
			b.appended(ctx, r, j, res, err)
		}
	}
	// Waiting for durability is the stores' time, not the broker's: it
	// does not count against request_percentage.
	r.idle += time.Since(waited)
}

// appended records the outcome of one batch's append in its response.
func (b *Broker) appended(ctx context.Context, r *request, j appendJob, res storage.AppendResult, err error) {
	sp, batch := j.sp, j.batch
	if err != nil && !errors.Is(err, storage.ErrDuplicateSequence) {
		sp.ErrorCode = b.storageError(ctx, r, "produce", err)
		return
	}
	// A duplicate of a committed idempotent batch is a success: the
	// producer retried, and gets the original offsets.
	sp.BaseOffset = res.BaseOffset
	sp.LogAppendTime = res.LogAppendTime
	sp.LogStartOffset = res.LogStartOffset
	if !batch.LogAppendTime {
		sp.LogAppendTime = -1
	}
}
