package brokertest

import (
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/affluent-io/affluent/dataplane/broker"
	"github.com/affluent-io/affluent/dataplane/storage"
	"github.com/affluent-io/affluent/internal/testutil"
)

// initProducer sends one transactional InitProducerId naming producerID
// and epoch (-1 for none) and returns the answer.
func initProducer(t *testing.T, cl *kgo.Client, id string, producerID int64, epoch int16) *kmsg.InitProducerIDResponse {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), 60000
	req.ProducerID, req.ProducerEpoch = producerID, epoch
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatalf("init producer id of %s: %v", id, err)
	}
	return resp
}

// wantInit checks an InitProducerId answer.
func wantInit(t *testing.T, what string, resp *kmsg.InitProducerIDResponse, code int16, producerID int64, epoch int16) {
	t.Helper()
	if resp.ErrorCode != code {
		t.Fatalf("%s (v%d): %v, want %v", what, resp.Version, kerr.ErrorForCode(resp.ErrorCode), kerr.ErrorForCode(code))
	}
	if code == 0 && (resp.ProducerID != producerID || resp.ProducerEpoch != epoch) {
		t.Fatalf("%s (v%d): producer %d epoch %d, want %d epoch %d", what, resp.Version, resp.ProducerID, resp.ProducerEpoch, producerID, epoch)
	}
}

func TestInitProducerIDRetried(t *testing.T) {
	dir := t.TempDir()
	h := testutil.StartBroker(t, testutil.BrokerOptions{DataDir: dir})
	const topic, id = "txn-retry", "txn-r"
	createTopic(t, h.Admin(t), topic, 1, nil)
	v4 := h.Client(t)

	first := initProducer(t, v4, id, -1, -1)
	wantInit(t, "first init", first, 0, first.ProducerID, 0)
	pid := first.ProducerID

	// The producer bumps its epoch; the broker dies before the answer
	// reaches it, and it asks the next one again with the pair it had:
	// the same answer, from either version.
	wantInit(t, "bump", initProducer(t, v4, id, pid, 0), 0, pid, 1)
	addr := h.Addr
	h.Stop()
	h = testutil.StartBroker(t, testutil.BrokerOptions{DataDir: dir, Addr: addr})
	v4 = h.Client(t)
	v3 := h.Client(t, kgo.MaxVersions(kversion.V2_5_0()))
	wantInit(t, "retried bump", initProducer(t, v4, id, pid, 0), 0, pid, 1)
	wantInit(t, "retried bump", initProducer(t, v3, id, pid, 0), 0, pid, 1)

	// Once the producer has done something at its new epoch, the old
	// pair no longer passes.
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = id, pid, 1
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = topic, []int32{0}
	add.Topics = append(add.Topics, at)
	if resp, err := add.RequestWith(testContext(t), v4); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("add partition: %v %+v", err, resp)
	}
	wantInit(t, "retry after a transaction began", initProducer(t, v4, id, pid, 0), kerr.ProducerFenced.Code, 0, 0)
	wantInit(t, "retry after a transaction began", initProducer(t, v3, id, pid, 0), kerr.InvalidProducerEpoch.Code, 0, 0)

	// A new incarnation, naming no pair, aborts that transaction and
	// leaves nothing by which its predecessor could pass.
	wantInit(t, "new incarnation", initProducer(t, v4, id, -1, -1), 0, pid, 2)
	wantInit(t, "predecessor after a new incarnation", initProducer(t, v4, id, pid, 1), kerr.ProducerFenced.Code, 0, 0)
	wantInit(t, "predecessor after a new incarnation", initProducer(t, v3, id, pid, 1), kerr.InvalidProducerEpoch.Code, 0, 0)
	wantInit(t, "epoch ahead of the coordinator's", initProducer(t, v4, id, pid, 3), kerr.ProducerFenced.Code, 0, 0)

	// An id without an epoch, or the reverse, is malformed.
	wantInit(t, "producer id without an epoch", initProducer(t, v4, id, pid, -1), kerr.InvalidRequest.Code, 0, 0)
	wantInit(t, "epoch without a producer id", initProducer(t, v4, id, -1, 2), kerr.InvalidRequest.Code, 0, 0)

	// At the last epoch the producer gets a new id; a retry of that
	// request gets the new id again, an older epoch of the old id is
	// still fenced.
	ctx := testContext(t)
	txn, found, err := h.Store.Transaction(ctx, h.Cluster, id)
	if err != nil || !found {
		t.Fatalf("load transaction %s: found %v (%v)", id, found, err)
	}
	txn.ProducerEpoch = math.MaxInt16 - 1
	if err := h.Store.SaveTransaction(ctx, h.Cluster, &txn); err != nil {
		t.Fatal(err)
	}
	rotated := initProducer(t, v4, id, pid, math.MaxInt16-1)
	wantInit(t, "init at the last epoch", rotated, 0, rotated.ProducerID, 0)
	if rotated.ProducerID == pid {
		t.Fatalf("init at the last epoch kept producer id %d", pid)
	}
	wantInit(t, "retried init at the last epoch", initProducer(t, v4, id, pid, math.MaxInt16-1), 0, rotated.ProducerID, 0)
	wantInit(t, "older epoch of the old id", initProducer(t, v4, id, pid, math.MaxInt16-2), kerr.ProducerFenced.Code, 0, 0)
	wantInit(t, "bump of the new id", initProducer(t, v4, id, rotated.ProducerID, 0), 0, rotated.ProducerID, 1)

	if st := describeTxn(t, v4, id); st.State != storage.TxnEmpty || st.ProducerID != rotated.ProducerID || st.ProducerEpoch != 1 {
		t.Fatalf("described %+v, want Empty at producer %d epoch 1", st, rotated.ProducerID)
	}
}

func TestTransactionalIDExpiration(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Configure: func(c *broker.Config) {
		c.TransactionalIDExpiration = 500 * time.Millisecond
	}})
	const topic = "txn-expiry"
	createTopic(t, h.Admin(t), topic, 1, nil)
	ctx := testContext(t)
	raw := h.Client(t)

	// One id ends its transaction and goes idle; another keeps one open,
	// which expiration must not touch (its timeout is long).
	idle := txnProducer(t, h, "txn-idle", topic)
	produceTxn(t, idle, 1, true, "committed")
	idleID, idleEpoch, err := idle.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	open := initProducer(t, raw, "txn-open", -1, -1)
	wantInit(t, "init", open, 0, open.ProducerID, 0)
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = "txn-open", open.ProducerID, open.ProducerEpoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = topic, []int32{0}
	add.Topics = append(add.Topics, at)
	if resp, err := add.RequestWith(ctx, raw); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("add partition: %v %+v", err, resp)
	}

	describe := func(id string) (string, int16) {
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{id}
		resp, err := req.RequestWith(ctx, raw)
		if err != nil {
			t.Fatalf("describe transaction %s: %v", id, err)
		}
		return resp.TransactionStates[0].State, resp.TransactionStates[0].ErrorCode
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, code := describe("txn-idle")
		if code == kerr.TransactionalIDNotFound.Code {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle transactional id still there 20s after its 500ms expiration: %v", kerr.ErrorForCode(code))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if state, code := describe("txn-open"); code != 0 || state != storage.TxnOngoing {
		t.Fatalf("transactional id with an open transaction after the expiration: %s %v, want it Ongoing", state, kerr.ErrorForCode(code))
	}

	// The forgotten id's producer is no longer known; initialised again,
	// naming its old pair, it starts afresh with a new producer id.
	add = kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = "txn-idle", idleID, idleEpoch
	add.Topics = append(add.Topics, at)
	if resp, err := add.RequestWith(ctx, raw); err != nil || resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("add partition for a forgotten id: %v %+v, want INVALID_PRODUCER_ID_MAPPING", err, resp)
	}
	again := initProducer(t, raw, "txn-idle", idleID, idleEpoch)
	wantInit(t, "init of a forgotten id", again, 0, again.ProducerID, 0)
	if again.ProducerID == idleID {
		t.Fatalf("a forgotten id initialised again kept producer id %d", idleID)
	}
}
