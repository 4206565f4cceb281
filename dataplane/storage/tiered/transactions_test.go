package tiered

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/storage"
)

// txnData is a transactional batch of a producer.
func txnData(t testing.TB, spec batchSpec, pid int64, epoch int16, seq int32) storage.Batch {
	t.Helper()
	b := makeBatch(t, idempotent(spec, pid, epoch, seq))
	setAttributes(b.Raw, attrTransactional)
	b.Transactional = true
	return b
}

// txnMarker is the control batch ending a producer's transaction.
func txnMarker(t testing.TB, pid int64, epoch int16, typ int16) storage.Batch {
	t.Helper()
	key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), uint16(typ))
	b := makeBatch(t, idempotent(batchSpec{kvs: []kv{{key: key, value: make([]byte, 6)}}}, pid, epoch, -1))
	setAttributes(b.Raw, attrTransactional|attrControl)
	b.Transactional, b.Control, b.ControlType, b.BaseSequence = true, true, typ, -1
	return b
}

func setAttributes(raw []byte, attrs uint16) {
	binary.BigEndian.PutUint16(raw[batchAttributesPos:], binary.BigEndian.Uint16(raw[batchAttributesPos:])|attrs)
	binary.BigEndian.PutUint32(raw[batchCRCPos:], crc32.Checksum(raw[batchAttributesPos:], castagnoli))
}

func TestTransactionalIndex(t *testing.T) { forEachBackend(t, testTransactionalIndex) }

func testTransactionalIndex(t *testing.T, cfg Config) {
	ctx := context.Background()
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	a, _ := s.AllocateProducerID(ctx)
	b, _ := s.AllocateProducerID(ctx)
	unstable := func(want int64) {
		t.Helper()
		got, err := s.FirstUnstableOffset(ctx, tp)
		if err != nil || got != want {
			t.Fatalf("first unstable offset %d (%v), want %d", got, err, want)
		}
	}

	mustAppend(t, s, tp, makeBatch(t, batchSpec{records: 2, tag: "plain"})) // 0-1
	unstable(-1)
	mustAppend(t, s, tp, txnData(t, batchSpec{records: 2, tag: "a"}, a, 0, 0)) // 2-3
	unstable(2)
	mustAppend(t, s, tp, txnData(t, batchSpec{tag: "b"}, b, 0, 0))  // 4
	mustAppend(t, s, tp, txnData(t, batchSpec{tag: "a2"}, a, 0, 2)) // 5: the same transaction of a
	unstable(2)
	mustAppend(t, s, tp, txnMarker(t, a, 0, storage.ControlCommit)) // 6
	unstable(4)
	mustAppend(t, s, tp, txnMarker(t, b, 0, storage.ControlAbort)) // 7
	unstable(-1)
	aborted, err := s.AbortedTransactions(ctx, tp, 0, 100)
	if err != nil || !slices.Equal(aborted, []storage.AbortedTxn{{ProducerID: b, FirstOffset: 4, LastOffset: 7}}) {
		t.Fatalf("aborted transactions %+v (%v), want b's from 4 to 7", aborted, err)
	}
	if aborted, _ := s.AbortedTransactions(ctx, tp, 8, 100); len(aborted) != 0 {
		t.Fatalf("aborted transactions after their marker: %+v", aborted)
	}

	// An abort marker at a new epoch fences the producer's old epoch; the
	// new one starts its sequences at 0.
	mustAppend(t, s, tp, txnData(t, batchSpec{tag: "a3"}, a, 0, 3)) // 8
	mustAppend(t, s, tp, txnMarker(t, a, 1, storage.ControlAbort))  // 9
	if _, err := s.Append(ctx, tp, txnData(t, batchSpec{tag: "zombie"}, a, 0, 4)); !errors.Is(err, storage.ErrInvalidProducerEpoch) {
		t.Fatalf("append at the fenced epoch: %v, want ErrInvalidProducerEpoch", err)
	}
	mustAppend(t, s, tp, txnData(t, batchSpec{tag: "a4"}, a, 1, 0)) // 10
	unstable(10)
	producers, err := s.Producers(ctx, tp)
	if err != nil {
		t.Fatal(err)
	}
	var sawA bool
	for _, p := range producers {
		if p.ProducerID == a {
			sawA = true
			if p.ProducerEpoch != 1 || p.LastSequence != 0 || p.TxnStartOffset != 10 {
				t.Fatalf("producer a described as %+v", p)
			}
		}
	}
	if !sawA {
		t.Fatalf("producers %+v lack a", producers)
	}

	// Coordinator records: saved over the version read only.
	txn := storage.Transaction{TransactionalID: "x", ProducerID: a, ProducerEpoch: 1, LastProducerID: a, LastProducerEpoch: 0, State: storage.TxnOngoing,
		TimeoutMs: 1000, Partitions: []storage.TxnPartition{{Topic: "t", Partition: 0}}, Groups: []string{"g"}, StartTime: 5, UpdateTime: 6}
	if err := s.SaveTransaction(ctx, "c", &txn); err != nil {
		t.Fatal(err)
	}
	stale := txn
	stale.Version = 0
	if err := s.SaveTransaction(ctx, "c", &stale); !errors.Is(err, storage.ErrTxnConflict) {
		t.Fatalf("save over a newer version: %v, want ErrTxnConflict", err)
	}
	got, found, err := s.Transaction(ctx, "c", "x")
	if err != nil || !found || got.State != storage.TxnOngoing || got.Version != 1 || !slices.Equal(got.Groups, []string{"g"}) ||
		got.LastProducerID != a || got.LastProducerEpoch != 0 ||
		!slices.Equal(got.Partitions, txn.Partitions) {
		t.Fatalf("loaded %+v (%v %v), want %+v", got, found, err, txn)
	}
	if _, found, _ := s.Transaction(ctx, "other-cluster", "x"); found {
		t.Fatal("another cluster sees the transaction")
	}
	if ongoing, err := s.OngoingTransactions(ctx, 1<<62); err != nil || len(ongoing) != 1 || ongoing[0].Cluster != "c" ||
		ongoing[0].TransactionalID != "x" || ongoing[0].LastProducerID != a || !slices.Equal(ongoing[0].Partitions, txn.Partitions) {
		t.Fatalf("ongoing transactions %+v (%v)", ongoing, err)
	}

	// A batch naming its transactional id commits only while that
	// transaction is ongoing with the partition, at the producer's epoch.
	named := func(tag string, seq int32, epoch int16) storage.Batch {
		b := txnData(t, batchSpec{tag: tag}, a, epoch, seq)
		b.TransactionalID = "x"
		return b
	}
	mustAppend(t, s, tp, named("in-txn", 1, 1))
	if _, err := s.Append(ctx, tp, named("old-epoch", 2, 0)); !errors.Is(err, storage.ErrInvalidProducerEpoch) {
		t.Fatalf("batch at an older epoch than its transaction's: %v, want ErrInvalidProducerEpoch", err)
	}
	txn.State = storage.TxnPrepareAbort
	if err := s.SaveTransaction(ctx, "c", &txn); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, tp, named("late", 2, 1)); !errors.Is(err, storage.ErrInvalidTxnState) {
		t.Fatalf("batch of a transaction being aborted: %v, want ErrInvalidTxnState", err)
	}
	mustAppend(t, s, tp, txnMarker(t, a, 1, storage.ControlAbort))
	unstable(-1)

	// Staged offsets are pending until the transaction ends, then the
	// group's (commit) or gone (abort); they are staged only into an
	// ongoing transaction of the producer's epoch that added the group.
	ongoing := func() {
		t.Helper()
		txn.State = storage.TxnOngoing
		if err := s.SaveTransaction(ctx, "c", &txn); err != nil {
			t.Fatal(err)
		}
	}
	stage := func(group string, epoch int16, offset int64) error {
		return s.StageTxnOffsets(ctx, "c", "x", a, epoch, []storage.TxnOffset{{Group: group, Topic: "t", Partition: 0, Offset: offset, LeaderEpoch: -1}})
	}
	if err := stage("g", 1, 7); !errors.Is(err, storage.ErrInvalidTxnState) {
		t.Fatalf("offsets staged into a transaction being aborted: %v, want ErrInvalidTxnState", err)
	}
	ongoing()
	if err := stage("g", 0, 7); !errors.Is(err, storage.ErrInvalidProducerEpoch) {
		t.Fatalf("offsets staged at an old epoch: %v, want ErrInvalidProducerEpoch", err)
	}
	if err := stage("other-group", 1, 7); !errors.Is(err, storage.ErrInvalidTxnState) {
		t.Fatalf("offsets of a group not in the transaction: %v, want ErrInvalidTxnState", err)
	}
	if err := stage("g", 1, 42); err != nil {
		t.Fatal(err)
	}
	if pending, err := s.PendingTxnOffsets(ctx, "c", "g"); err != nil || len(pending) != 1 {
		t.Fatalf("pending offsets %+v (%v)", pending, err)
	}
	if offsets, _ := s.FetchOffsets(ctx, "c", "g", nil); len(offsets) != 0 {
		t.Fatalf("staged offsets visible before the commit: %+v", offsets)
	}
	txn.State = storage.TxnCompleteCommit
	if err := s.CompleteTransaction(ctx, "c", &txn, true); err != nil {
		t.Fatal(err)
	}
	offsets, err := s.FetchOffsets(ctx, "c", "g", nil)
	if err != nil || !slices.Equal(offsets, []groups.CommittedOffset{{Topic: "t", Offset: 42, LeaderEpoch: -1}}) {
		t.Fatalf("offsets after the commit: %+v (%v)", offsets, err)
	}
	if pending, _ := s.PendingTxnOffsets(ctx, "c", "g"); len(pending) != 0 {
		t.Fatalf("still pending after the commit: %+v", pending)
	}
	// A marker of an earlier attempt to end the transaction, committing
	// late, must not end the next one.
	late := txnMarker(t, a, 1, storage.ControlAbort)
	late.TransactionalID = "x"
	if _, err := s.Append(ctx, tp, late); !errors.Is(err, storage.ErrInvalidTxnState) {
		t.Fatalf("a marker of a completed transaction: %v, want ErrInvalidTxnState", err)
	}
	if err := stage("g", 1, 99); !errors.Is(err, storage.ErrInvalidTxnState) {
		t.Fatalf("offsets staged into a committed transaction: %v, want ErrInvalidTxnState", err)
	}
	ongoing()
	if err := stage("g", 1, 99); err != nil {
		t.Fatal(err)
	}
	txn.State = storage.TxnCompleteAbort
	if err := s.CompleteTransaction(ctx, "c", &txn, false); err != nil {
		t.Fatal(err)
	}
	if offsets, _ := s.FetchOffsets(ctx, "c", "g", nil); len(offsets) != 1 || offsets[0].Offset != 42 {
		t.Fatalf("offsets after an abort: %+v, want 42 still", offsets)
	}

	// All of it is in the metadata DB: a store opened afresh finds it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, cfg)
	unstable(-1)
	if aborted, err := s.AbortedTransactions(ctx, tp, 0, 100); err != nil || len(aborted) != 3 {
		t.Fatalf("aborted transactions after reopening: %+v (%v), want b's and a's two", aborted, err)
	}

	// Deleting the cluster drops its transactional ids.
	if err := s.DeleteClusterTransactions(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Transaction(ctx, "c", "x"); err != nil || found {
		t.Fatalf("transaction of a deleted cluster: found %v (%v)", found, err)
	}

	// Retention below an aborted span forgets it.
	if _, err := s.DeleteRecords(ctx, tp, 8); err != nil {
		t.Fatal(err)
	}
	if aborted, _ := s.AbortedTransactions(ctx, tp, 0, 100); len(aborted) != 2 || aborted[0].LastOffset != 9 {
		t.Fatalf("aborted transactions after deleting records before 8: %+v, want a's two only", aborted)
	}
}

func TestTransactionalIndexBelowLogStart(t *testing.T) {
	forEachBackend(t, testTransactionalIndexBelowLogStart)
}

func testTransactionalIndexBelowLogStart(t *testing.T, cfg Config) {
	ctx := context.Background()
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	a, _ := s.AllocateProducerID(ctx)
	b, _ := s.AllocateProducerID(ctx)
	aborted := func(from int64, want ...storage.AbortedTxn) {
		t.Helper()
		got, err := s.AbortedTransactions(ctx, tp, from, 100)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("aborted transactions from %d: %+v (%v), want %+v", from, got, err, want)
		}
	}
	unstable := func(want int64) {
		t.Helper()
		if got, err := s.FirstUnstableOffset(ctx, tp); err != nil || got != want {
			t.Fatalf("first unstable offset %d (%v), want %d", got, err, want)
		}
	}

	mustAppend(t, s, tp, txnData(t, batchSpec{tag: "a1"}, a, 0, 0)) // 0
	mustAppend(t, s, tp, txnMarker(t, a, 0, storage.ControlAbort))  // 1
	mustAppend(t, s, tp, txnData(t, batchSpec{tag: "b1"}, b, 0, 0)) // 2: stays open
	mustAppend(t, s, tp, makeBatch(t, batchSpec{tag: "plain"}))     // 3
	mustAppend(t, s, tp, txnData(t, batchSpec{tag: "a2"}, a, 0, 1)) // 4
	mustAppend(t, s, tp, txnMarker(t, a, 0, storage.ControlAbort))  // 5
	aborted(0, storage.AbortedTxn{ProducerID: a, FirstOffset: 0, LastOffset: 1}, storage.AbortedTxn{ProducerID: a, FirstOffset: 4, LastOffset: 5})
	unstable(2)

	// Past a's first abort marker and b's first offset: the span goes,
	// and b's open transaction now starts at the log start.
	if _, err := s.DeleteRecords(ctx, tp, 3); err != nil {
		t.Fatal(err)
	}
	aborted(0, storage.AbortedTxn{ProducerID: a, FirstOffset: 4, LastOffset: 5})
	unstable(3)
	mustAppend(t, s, tp, txnMarker(t, b, 0, storage.ControlAbort)) // 6
	unstable(-1)
	aborted(3, storage.AbortedTxn{ProducerID: b, FirstOffset: 3, LastOffset: 6}, storage.AbortedTxn{ProducerID: a, FirstOffset: 4, LastOffset: 5})

	// A span whose marker is at the log start is still needed.
	if _, err := s.DeleteRecords(ctx, tp, 6); err != nil {
		t.Fatal(err)
	}
	aborted(0, storage.AbortedTxn{ProducerID: b, FirstOffset: 3, LastOffset: 6})
	if _, err := s.DeleteRecords(ctx, tp, 7); err != nil {
		t.Fatal(err)
	}
	aborted(0)

	// Deleting the topic takes the rest of its index.
	mustAppend(t, s, tp, txnData(t, batchSpec{tag: "a3"}, a, 0, 2)) // 7
	mustAppend(t, s, tp, txnMarker(t, a, 0, storage.ControlAbort))  // 8
	mustAppend(t, s, tp, txnData(t, batchSpec{tag: "b2"}, b, 1, 0)) // 9: open
	if err := s.DeleteTopic(ctx, "c", "t"); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"txn_open", "txn_aborted"} {
		var n int
		if err := s.db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d rows in %s after the topic was deleted (%v), want none", n, table, err)
		}
	}
}

func TestIdleTransactionalIDs(t *testing.T) { forEachBackend(t, testIdleTransactionalIDs) }

func testIdleTransactionalIDs(t *testing.T, cfg Config) {
	ctx := context.Background()
	s := openStore(t, cfg)
	save := func(cluster, id, state string, updated int64) *storage.Transaction {
		t.Helper()
		txn := &storage.Transaction{TransactionalID: id, ProducerID: 1, LastProducerID: -1, LastProducerEpoch: -1,
			State: state, TimeoutMs: 1000, StartTime: -1, UpdateTime: updated}
		if err := s.SaveTransaction(ctx, cluster, txn); err != nil {
			t.Fatal(err)
		}
		return txn
	}
	old := save("c", "old-empty", storage.TxnEmpty, 100)
	save("c", "old-committed", storage.TxnCompleteCommit, 100)
	save("d", "old-aborted", storage.TxnCompleteAbort, 100)
	save("c", "old-ongoing", storage.TxnOngoing, 100)
	save("c", "old-preparing", storage.TxnPrepareCommit, 100)
	save("c", "recent", storage.TxnEmpty, 5000)

	idle, err := s.IdleTransactions(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ct := range idle {
		ids = append(ids, ct.Cluster+"/"+ct.TransactionalID)
	}
	slices.Sort(ids)
	if want := []string{"c/old-committed", "c/old-empty", "d/old-aborted"}; !slices.Equal(ids, want) {
		t.Fatalf("idle transactional ids %q, want %q", ids, want)
	}

	// A record saved again since it was listed is kept.
	listed := *old
	old.UpdateTime = 6000
	if err := s.SaveTransaction(ctx, "c", old); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTransaction(ctx, "c", listed); !errors.Is(err, storage.ErrTxnConflict) {
		t.Fatalf("delete as listed after a save: %v, want ErrTxnConflict", err)
	}
	if _, found, err := s.Transaction(ctx, "c", "old-empty"); err != nil || !found {
		t.Fatalf("transaction saved again was deleted: found %v (%v)", found, err)
	}
	if err := s.DeleteTransaction(ctx, "c", *old); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Transaction(ctx, "c", "old-empty"); err != nil || found {
		t.Fatalf("deleted transaction: found %v (%v)", found, err)
	}
	if err := s.DeleteTransaction(ctx, "c", *old); !errors.Is(err, storage.ErrTxnConflict) {
		t.Fatalf("delete of a transaction already gone: %v, want ErrTxnConflict", err)
	}
	// Deleted and made again, an id starts at version 1 again: the
	// listing of the first record must not delete the second.
	i := slices.IndexFunc(idle, func(ct storage.ClusterTransaction) bool { return ct.TransactionalID == "old-committed" })
	committed := idle[i].Transaction
	if err := s.DeleteTransaction(ctx, "c", committed); err != nil {
		t.Fatal(err)
	}
	save("c", "old-committed", storage.TxnEmpty, 8000)
	if err := s.DeleteTransaction(ctx, "c", committed); !errors.Is(err, storage.ErrTxnConflict) {
		t.Fatalf("delete of a record made again, as first listed: %v, want ErrTxnConflict", err)
	}
	if got, found, err := s.Transaction(ctx, "c", "old-committed"); err != nil || !found || got.UpdateTime != 8000 {
		t.Fatalf("record made again: %+v found %v (%v)", got, found, err)
	}
}

func TestCleanerDropsAbortedData(t *testing.T) { forEachBackend(t, testCleanerDropsAbortedData) }

func testCleanerDropsAbortedData(t *testing.T, cfg Config) {
	ctx := context.Background()
	clock := &testClock{}
	cfg = compactionConfig(cfg, clock)
	s := openStore(t, cfg)
	if _, err := s.CreateTopic(ctx, "c", "t", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	pid, _ := s.AllocateProducerID(ctx)
	now := clock.now().UnixMilli()
	mustAppend(t, s, tp, makeBatch(t, batchSpec{kvs: []kv{{[]byte("k"), []byte("committed")}}, firstTS: now}))
	mustAppend(t, s, tp, txnData(t, batchSpec{kvs: []kv{{[]byte("k"), []byte("aborted")}}, firstTS: now}, pid, 0, 0))
	mustAppend(t, s, tp, txnMarker(t, pid, 0, storage.ControlAbort))
	mustAppend(t, s, tp, makeBatch(t, batchSpec{kvs: []kv{{[]byte("other"), []byte("last")}}, firstTS: now}))
	mustCompact(t, s)
	mustCompact(t, s)

	var values []string
	markers := 0
	for _, r := range readRecords(t, s, tp, 0) {
		if r.batch.Attributes&attrControl != 0 {
			markers++
			continue
		}
		values = append(values, string(r.key)+"="+string(r.value))
	}
	if want := []string{"k=committed", "other=last"}; !slices.Equal(values, want) || markers != 1 {
		t.Fatalf("after cleaning: %q and %d markers, want %q and the abort marker", values, markers, want)
	}
}
