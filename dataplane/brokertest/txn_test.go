package brokertest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/testutil"
)

// txnProducer is a franz-go transactional producer of topic.
func txnProducer(t *testing.T, h *testutil.BrokerHandle, id, topic string, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts := append([]kgo.Opt{kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner())}, extra...)
	return h.Client(t, opts...)
}

// produceTxn produces values to partition i%partitions in one transaction
// and ends it with commit or abort.
func produceTxn(t *testing.T, cl *kgo.Client, partitions int, commit bool, values ...string) {
	t.Helper()
	ctx := testContext(t)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin transaction: %v", err)
	}
	for i, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: int32(i % partitions), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction (commit %v): %v", commit, err)
	}
}

// readValues reads topic from the start up to its end at the isolation
// level and returns the values, sorted.
func readValues(t *testing.T, h *testutil.BrokerHandle, topic string, committed bool) []string {
	t.Helper()
	ctx := testContext(t)
	level := kgo.ReadUncommitted()
	if committed {
		level = kgo.ReadCommitted()
	}
	adm := h.Admin(t)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if committed {
		ends, err = kadm.NewClient(h.Client(t, kgo.FetchIsolationLevel(kgo.ReadCommitted()))).ListCommittedOffsets(ctx, topic)
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	// Control records are kept so that each partition's position reaches
	// its end through the markers (the last offset may be one).
	cl := h.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(level),
		kgo.KeepControlRecords())
	var got []string
	positions := map[int32]int64{}
	done := func() bool {
		for p, o := range ends[topic] {
			if positions[p] < o.Offset {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %s (committed %v): at %v of %v: %v; got %q", topic, committed, positions, ends[topic], err, got)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			positions[r.Partition] = max(positions[r.Partition], r.Offset+1)
			if !r.Attrs.IsControl() {
				got = append(got, string(r.Value))
			}
		})
	}
	slices.Sort(got)
	return got
}

func seqValues(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s-%03d", prefix, i))
	}
	return out
}

func TestTransactionsCommitAbort(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	const topic, partitions = "txn-out", 3
	createTopic(t, h.Admin(t), topic, partitions, nil)
	p := txnProducer(t, h, "txn-a", topic)

	committed1, aborted, committed2 := seqValues("commit1", 30), seqValues("abort", 30), seqValues("commit2", 30)
	produceTxn(t, p, partitions, true, committed1...)
	produceTxn(t, p, partitions, false, aborted...)
	produceTxn(t, p, partitions, true, committed2...)

	want := slices.Sorted(slices.Values(append(slices.Clone(committed1), committed2...)))
	if got := readValues(t, h, topic, true); !slices.Equal(got, want) {
		t.Fatalf("read_committed read %d records %q,\nwant the %d committed %q", len(got), got, len(want), want)
	}
	all := slices.Sorted(slices.Values(append(append(slices.Clone(committed1), aborted...), committed2...)))
	if got := readValues(t, h, topic, false); !slices.Equal(got, all) {
		t.Fatalf("read_uncommitted read %d records, want all %d (aborted ones too): %q", len(got), len(all), got)
	}

	// An open transaction holds the last stable offset back, for fetches
	// and ListOffsets, until it ends.
	ctx := testContext(t)
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	hw, lso := endOffsets(t, h, topic, 0)
	if lso != hw-1 {
		t.Fatalf("with a transaction open at offset %d: last stable offset %d, want %d", hw-1, lso, hw-1)
	}
	if got := readValues(t, h, topic, true); !slices.Equal(got, want) {
		t.Fatalf("read_committed with a transaction open read %q, want %q", got, want)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	hw, lso = endOffsets(t, h, topic, 0)
	if lso != hw {
		t.Fatalf("after commit: last stable offset %d, want the high watermark %d", lso, hw)
	}
	want = slices.Sorted(slices.Values(append(want, "open")))
	if got := readValues(t, h, topic, true); !slices.Equal(got, want) {
		t.Fatalf("read_committed after the last commit read %q, want %q", got, want)
	}
}

// endOffsets lists the high watermark and the last stable offset of a
// partition.
func endOffsets(t *testing.T, h *testutil.BrokerHandle, topic string, partition int32) (hw, lso int64) {
	t.Helper()
	ctx := testContext(t)
	for i, level := range []int8{0, 1} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID, req.IsolationLevel = -1, level
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = partition, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, h.Client(t))
		if err != nil {
			t.Fatalf("list offsets: %v", err)
		}
		sp := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
			t.Fatalf("list offsets of %s/%d: %v", topic, partition, err)
		}
		if i == 0 {
			hw = sp.Offset
		} else {
			lso = sp.Offset
		}
	}
	return hw, lso
}

func TestTransactionsFencing(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	const topic = "txn-fence"
	createTopic(t, h.Admin(t), topic, 2, nil)
	ctx := testContext(t)

	zombie := txnProducer(t, h, "txn-f", topic)
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("zombie-1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	zombieID, zombieEpoch, pidErr := zombie.ProducerID(ctx)
	if pidErr != nil || zombieID < 0 {
		t.Fatalf("zombie has no producer id: %v", pidErr)
	}

	// A new incarnation of the same transactional id fences the first and
	// aborts its transaction.
	successor := txnProducer(t, h, "txn-f", topic)
	produceTxn(t, successor, 2, true, "successor-1", "successor-2")

	// The zombie's produce is refused with its old epoch, and so is its
	// commit.
	err := zombie.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("zombie-2")}).FirstErr()
	if !errors.Is(err, kerr.InvalidProducerEpoch) && !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("zombie produce after fencing: %v, want INVALID_PRODUCER_EPOCH or PRODUCER_FENCED", err)
	}
	// Its commit fails (franz-go does not even try, a record having
	// failed; the raw requests below check what the broker answers).
	if err := zombie.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatalf("zombie commit after fencing succeeded")
	}

	// The same with the exact codes of each API, as the zombie sends them.
	raw := h.Client(t)
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "txn-f", zombieID, zombieEpoch, true
	endResp, err := end.RequestWith(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if endResp.ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("EndTxn v%d of the zombie: %v, want PRODUCER_FENCED", endResp.Version, kerr.ErrorForCode(endResp.ErrorCode))
	}
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = "txn-f", zombieID, zombieEpoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = topic, []int32{1}
	add.Topics = append(add.Topics, at)
	addResp, err := add.RequestWith(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if code := addResp.Topics[0].Partitions[0].ErrorCode; code != kerr.ProducerFenced.Code {
		t.Fatalf("AddPartitionsToTxn of the zombie: %v, want PRODUCER_FENCED", kerr.ErrorForCode(code))
	}
	prod := rawProduce(topic, 0, txnBatch(zombieID, zombieEpoch, 100, "zombie-raw"))
	prod.TransactionID = kmsg.StringPtr("txn-f")
	prodResp, err := prod.RequestWith(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if code := prodResp.Topics[0].Partitions[0].ErrorCode; code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("produce of the zombie: %v, want INVALID_PRODUCER_EPOCH", kerr.ErrorForCode(code))
	}

	if got, want := readValues(t, h, topic, true), []string{"successor-1", "successor-2"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed read %q, want only the successor's %q", got, want)
	}
	if got := readValues(t, h, topic, false); !slices.Contains(got, "zombie-1") {
		t.Fatalf("read_uncommitted read %q, want the zombie's aborted record too", got)
	}
}

func TestTransactionalProduceOutsideTransaction(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	const topic = "txn-state"
	createTopic(t, h.Admin(t), topic, 2, nil)
	ctx := testContext(t)
	raw := h.Client(t)

	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr("txn-s"), 60000
	initResp, err := init.RequestWith(ctx, raw)
	if err != nil || initResp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %v", err, kerr.ErrorForCode(initResp.ErrorCode))
	}
	// Partition 0 is added to the transaction, partition 1 is not.
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = "txn-s", initResp.ProducerID, initResp.ProducerEpoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = topic, []int32{0}
	add.Topics = append(add.Topics, at)
	if resp, err := add.RequestWith(ctx, raw); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("add partition: %v %+v", err, resp)
	}
	for _, tc := range []struct {
		name      string
		txnID     *string
		partition int32
		want      int16
	}{
		{"added partition", kmsg.StringPtr("txn-s"), 0, 0},
		{"partition not added", kmsg.StringPtr("txn-s"), 1, kerr.InvalidTxnState.Code},
		{"no transactional id", nil, 0, kerr.InvalidTxnState.Code},
		{"unknown transactional id", kmsg.StringPtr("txn-nobody"), 0, kerr.InvalidProducerIDMapping.Code},
	} {
		seq := int32(0)
		if tc.want != 0 {
			seq = 1
		}
		prod := rawProduce(topic, tc.partition, txnBatch(initResp.ProducerID, initResp.ProducerEpoch, seq, tc.name))
		prod.TransactionID = tc.txnID
		resp, err := prod.RequestWith(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, kerr.ErrorForCode(code), kerr.ErrorForCode(tc.want))
		}
	}
}

// txnBatch is one transactional record batch of a producer.
func txnBatch(producerID int64, epoch int16, seq int32, value string) []byte {
	raw := rawBatch(value)
	binary.BigEndian.PutUint16(raw[21:], 0x10) // attributes: transactional
	binary.BigEndian.PutUint64(raw[43:], uint64(producerID))
	binary.BigEndian.PutUint16(raw[51:], uint16(epoch))
	binary.BigEndian.PutUint32(raw[53:], uint32(seq))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// describeTxn describes one transactional id.
func describeTxn(t *testing.T, cl *kgo.Client, id string) kmsg.DescribeTransactionsResponseTransactionState {
	t.Helper()
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{id}
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatalf("describe transaction %s: %v", id, err)
	}
	st := resp.TransactionStates[0]
	if err := kerr.ErrorForCode(st.ErrorCode); err != nil {
		t.Fatalf("describe transaction %s: %v", id, err)
	}
	return st
}

func TestTransactionTimeoutAndDescriptions(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	const topic, id = "txn-timeout", "txn-t"
	createTopic(t, h.Admin(t), topic, 1, nil)
	ctx := testContext(t)
	raw := h.Client(t)

	// Two committed records of another producer and its commit marker
	// first, so the stuck transaction starts at offset 3.
	produceTxn(t, txnProducer(t, h, "txn-before", topic), 1, true, "before-1", "before-2")

	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr(id), 1500
	initResp, err := init.RequestWith(ctx, raw)
	if err != nil || initResp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %v", err, kerr.ErrorForCode(initResp.ErrorCode))
	}
	pid, epoch := initResp.ProducerID, initResp.ProducerEpoch
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = id, pid, epoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = topic, []int32{0}
	add.Topics = append(add.Topics, at)
	if resp, err := add.RequestWith(ctx, raw); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("add partition: %v %+v", err, resp)
	}
	prod := rawProduce(topic, 0, txnBatch(pid, epoch, 0, "stuck"))
	prod.TransactionID = kmsg.StringPtr(id)
	if resp, err := prod.RequestWith(ctx, raw); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("transactional produce: %v %+v", err, resp)
	}

	// While it is open: described, listed, and its producer shown with
	// the transaction's first offset.
	st := describeTxn(t, raw, id)
	if st.State != "Ongoing" || st.ProducerID != pid || st.ProducerEpoch != epoch || st.TimeoutMillis != 1500 ||
		st.StartTimestamp <= 0 || len(st.Topics) != 1 || st.Topics[0].Topic != topic || !slices.Equal(st.Topics[0].Partitions, []int32{0}) {
		t.Fatalf("described ongoing transaction %+v", st)
	}
	list := kmsg.NewPtrListTransactionsRequest()
	list.StateFilters = []string{"Ongoing", "NoSuchState"}
	listResp, err := list.RequestWith(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(listResp.TransactionStates) != 1 || listResp.TransactionStates[0].TransactionalID != id ||
		!slices.Equal(listResp.UnknownStateFilters, []string{"NoSuchState"}) {
		t.Fatalf("ongoing transactions listed: %+v", listResp)
	}
	producers := kmsg.NewPtrDescribeProducersRequest()
	pt := kmsg.NewDescribeProducersRequestTopic()
	pt.Topic, pt.Partitions = topic, []int32{0}
	producers.Topics = append(producers.Topics, pt)
	prodDesc, err := producers.RequestWith(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, ap := range prodDesc.Topics[0].Partitions[0].ActiveProducers {
		if ap.ProducerID == pid {
			found = true
			if ap.CurrentTxnStartOffset != 3 || ap.LastSequence != 0 || ap.ProducerEpoch != int32(epoch) {
				t.Fatalf("producer described as %+v, want its transaction open at offset 3", ap)
			}
		}
	}
	if !found {
		t.Fatalf("producer %d not described: %+v", pid, prodDesc)
	}
	if hw, lso := endOffsets(t, h, topic, 0); hw != 4 || lso != 3 {
		t.Fatalf("high watermark %d, last stable offset %d with the transaction open, want 4 and 3", hw, lso)
	}

	// Past its timeout the coordinator aborts it at a new epoch.
	deadline := time.Now().Add(20 * time.Second)
	for st = describeTxn(t, raw, id); st.State != "CompleteAbort"; st = describeTxn(t, raw, id) {
		if time.Now().After(deadline) {
			t.Fatalf("transaction still %s 20s after its 1.5s timeout", st.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.ProducerID != pid || st.ProducerEpoch != epoch+1 {
		t.Fatalf("aborted transaction at producer %d epoch %d, want %d epoch %d", st.ProducerID, st.ProducerEpoch, pid, epoch+1)
	}
	if hw, lso := endOffsets(t, h, topic, 0); hw != 5 || lso != 5 {
		t.Fatalf("after the abort marker: high watermark %d, last stable offset %d, want 5 and 5", hw, lso)
	}
	prod = rawProduce(topic, 0, txnBatch(pid, epoch, 1, "zombie"))
	prod.TransactionID = kmsg.StringPtr(id)
	if resp, err := prod.RequestWith(ctx, raw); err != nil || resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("produce of the timed out producer: %v %+v, want INVALID_PRODUCER_EPOCH", err, resp)
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = id, pid, epoch, true
	if resp, err := end.RequestWith(ctx, raw); err != nil || resp.ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("commit of the timed out producer: %v %+v, want PRODUCER_FENCED", err, resp)
	}
	if got, want := readValues(t, h, topic, true), []string{"before-1", "before-2"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed read %q, want %q", got, want)
	}
	if got, want := readValues(t, h, topic, false), []string{"before-1", "before-2", "stuck"}; !slices.Equal(got, want) {
		t.Fatalf("read_uncommitted read %q, want %q", got, want)
	}
}
