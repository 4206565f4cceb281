package cpwatch

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/affluent-io/affluent/dataplane/broker"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// Failed authentications go to the control plane's audit log in batches,
// best effort: the queue is bounded and drops under a flood (the broker's
// metrics still count every failure), and a batch the control plane does
// not take is dropped, not retried.
const (
	failureQueueLen = 1024
	failureBatch    = 128
	failureLinger   = 200 * time.Millisecond
)

type failureQueue struct {
	ch chan *bpb.KafkaAuthFailure
}

func newFailureQueue() *failureQueue {
	return &failureQueue{ch: make(chan *bpb.KafkaAuthFailure, failureQueueLen)}
}

// ReportAuthFailure queues a failed authentication for the audit log
// (broker.Config.OnAuthFailure). It never blocks.
func (c *Client) ReportAuthFailure(f broker.AuthFailure) {
	select {
	case c.failures.ch <- &bpb.KafkaAuthFailure{Time: timestamppb.New(f.Time), Remote: f.Remote, Listener: f.Listener,
		Mechanism: f.Mechanism, Identity: f.Identity, Cluster: f.Cluster, Reason: f.Reason}:
	default:
	}
}

// run sends queued failures until ctx ends.
func (q *failureQueue) run(ctx context.Context, rpc bpb.BrokerConfigServiceClient, log *slog.Logger) {
	for {
		var batch []*bpb.KafkaAuthFailure
		select {
		case <-ctx.Done():
			return
		case f := <-q.ch:
			batch = append(batch, f)
		}
		linger := time.After(failureLinger)
	fill:
		for len(batch) < failureBatch {
			select {
			case f := <-q.ch:
				batch = append(batch, f)
			case <-linger:
				break fill
			case <-ctx.Done():
				return
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := rpc.RecordKafkaAuthFailures(sctx, &bpb.RecordKafkaAuthFailuresRequest{Failures: batch})
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Debug("failed authentications not audited: control plane unreachable", "dropped", len(batch), "err", err)
		}
	}
}
