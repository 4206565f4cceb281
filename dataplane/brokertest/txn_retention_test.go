package brokertest

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/testutil"
)

func TestTransactionsAfterDeleteRecords(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	const topic, openID = "txn-trimmed", "txn-spanning"
	createTopic(t, h.Admin(t), topic, 1, nil)
	ctx := testContext(t)
	raw := h.Client(t)
	p := txnProducer(t, h, "txn-trim", topic)

	produceTxn(t, p, 1, true, "commit-1", "commit-2") // 0-1, marker 2
	produceTxn(t, p, 1, false, "abort-1", "abort-2")  // 3-4, marker 5

	// Another producer's transaction opens at 6 and stays open across the
	// new log start.
	open := initProducer(t, raw, openID, -1, -1)
	wantInit(t, "init", open, 0, open.ProducerID, 0)
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = openID, open.ProducerID, open.ProducerEpoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = topic, []int32{0}
	add.Topics = append(add.Topics, at)
	if resp, err := add.RequestWith(ctx, raw); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("add partition: %v %+v", err, resp)
	}
	prod := rawProduce(topic, 0, txnBatch(open.ProducerID, open.ProducerEpoch, 0, "open-1"))
	prod.TransactionID = kmsg.StringPtr(openID)
	if resp, err := prod.RequestWith(ctx, raw); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("transactional produce: %v %+v", err, resp)
	}
	produceTxn(t, p, 1, true, "commit-3") // 7, marker 8
	produceTxn(t, p, 1, false, "abort-3") // 9, marker 10
	if hw, lso := endOffsets(t, h, topic, 0); hw != 11 || lso != 6 {
		t.Fatalf("before deleting records: high watermark %d, last stable offset %d, want 11 and 6", hw, lso)
	}

	deleted, err := h.Admin(t).DeleteRecords(ctx, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 7}}})
	if err != nil || deleted.Error() != nil {
		t.Fatalf("delete records before 7: %v %v", err, deleted.Error())
	}
	// The open transaction now starts at the log start, and the last
	// stable offset with it.
	if hw, lso := endOffsets(t, h, topic, 0); hw != 11 || lso != 7 {
		t.Fatalf("after deleting records before 7: high watermark %d, last stable offset %d, want 11 and 7", hw, lso)
	}

	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = openID, open.ProducerID, open.ProducerEpoch, false
	if resp, err := end.RequestWith(ctx, raw); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("abort the open transaction: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	if hw, lso := endOffsets(t, h, topic, 0); hw != 12 || lso != 12 {
		t.Fatalf("after the abort marker: high watermark %d, last stable offset %d, want 12 and 12", hw, lso)
	}
	// Aborted data above the log start is still skipped; the records
	// below it are gone for both isolation levels.
	if got, want := readValues(t, h, topic, true), []string{"commit-3"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed read %q, want %q", got, want)
	}
	if got, want := readValues(t, h, topic, false), []string{"abort-3", "commit-3"}; !slices.Equal(got, want) {
		t.Fatalf("read_uncommitted read %q, want %q", got, want)
	}
}
