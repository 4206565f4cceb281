package broker

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/storage"
)

func TestMarkerBatch(t *testing.T) {
	for _, commit := range []bool{false, true} {
		b := markerBatch(42, 7, commit, 1234)
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b.Raw); err != nil {
			t.Fatalf("decode marker: %v", err)
		}
		if got := int32(crc32.Checksum(b.Raw[batchOffAttributes:], crc32c)); got != rb.CRC {
			t.Fatalf("marker crc %x, header says %x", got, rb.CRC)
		}
		if int(rb.Length)+batchLengthOverhead != len(b.Raw) || rb.Magic != 2 || rb.Attributes != 0x30 ||
			rb.ProducerID != 42 || rb.ProducerEpoch != 7 || rb.FirstSequence != -1 || rb.NumRecords != 1 || rb.FirstTimestamp != 1234 {
			t.Fatalf("marker header %+v", rb)
		}
		var rec kmsg.Record
		if err := rec.ReadFrom(rb.Records); err != nil {
			t.Fatalf("decode marker record: %v", err)
		}
		wantType := storage.ControlAbort
		if commit {
			wantType = storage.ControlCommit
		}
		key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), uint16(wantType))
		if !bytes.Equal(rec.Key, key) || !bytes.Equal(rec.Value, make([]byte, 6)) {
			t.Fatalf("marker record key %x value %x, want key %x and version 0, coordinator epoch 0", rec.Key, rec.Value, key)
		}
		if !b.Control || !b.Transactional || b.ControlType != wantType || b.BaseSequence != -1 || b.NumRecords != 1 {
			t.Fatalf("marker batch fields %+v", b)
		}
	}
}

func TestBatchesBelow(t *testing.T) {
	batch := func(base int64) []byte {
		b := markerBatch(1, 0, true, 0).Raw
		binary.BigEndian.PutUint64(b, uint64(base))
		return b
	}
	var log []byte
	for _, base := range []int64{0, 5, 9} {
		log = append(log, batch(base)...)
	}
	size := len(log) / 3
	for _, tc := range []struct {
		below int64
		want  int
	}{{0, 0}, {1, size}, {5, size}, {6, 2 * size}, {9, 2 * size}, {10, 3 * size}, {1 << 40, 3 * size}} {
		if got := len(batchesBelow(log, tc.below)); got != tc.want {
			t.Errorf("batches below %d: %d bytes, want %d", tc.below, got, tc.want)
		}
	}
	// Truncated or nonsense input is cut, never read past.
	for n := range len(log) {
		_ = batchesBelow(log[:n], 1<<40)
	}
	bad := bytes.Clone(log)
	binary.BigEndian.PutUint32(bad[batchOffLength:], 0xffffffff)
	if got := batchesBelow(bad, 1<<40); len(got) != 0 {
		t.Fatalf("a batch with a negative length kept %d bytes", len(got))
	}
}

func TestCheckTxnProducer(t *testing.T) {
	txn := storage.Transaction{ProducerID: 5, ProducerEpoch: 3}
	for _, tc := range []struct {
		pid    int64
		epoch  int16
		fenced bool
		want   int16
	}{
		{5, 3, true, 0},
		{5, 2, true, kerr.ProducerFenced.Code},
		{5, 2, false, kerr.InvalidProducerEpoch.Code},
		{5, 4, true, kerr.ProducerFenced.Code},
		{6, 3, true, kerr.InvalidProducerIDMapping.Code},
	} {
		if got := checkTxnProducer(txn, tc.pid, tc.epoch, tc.fenced); got != tc.want {
			t.Errorf("producer %d epoch %d (fenced code %v): %v, want %v", tc.pid, tc.epoch, tc.fenced, kerr.ErrorForCode(got), kerr.ErrorForCode(tc.want))
		}
	}
}

func TestTxnExpired(t *testing.T) {
	const now = 100_000
	for _, tc := range []struct {
		txn  storage.Transaction
		want bool
	}{
		{storage.Transaction{State: storage.TxnOngoing, StartTime: now - 2000, TimeoutMs: 1000}, true},
		{storage.Transaction{State: storage.TxnOngoing, StartTime: now - 500, TimeoutMs: 1000}, false},
		{storage.Transaction{State: storage.TxnPrepareCommit, UpdateTime: now - txnPrepareStale.Milliseconds() - 1}, true},
		{storage.Transaction{State: storage.TxnPrepareAbort, UpdateTime: now - 10}, false},
		{storage.Transaction{State: storage.TxnCompleteCommit, StartTime: -1, UpdateTime: 0}, false},
		{storage.Transaction{State: storage.TxnEmpty, StartTime: -1}, false},
	} {
		if got := txnExpired(tc.txn, now); got != tc.want {
			t.Errorf("%+v expired: %v, want %v", tc.txn, got, tc.want)
		}
	}
}

func TestFenceEpoch(t *testing.T) {
	txn := storage.Transaction{ProducerID: 9, ProducerEpoch: 4, LastProducerID: 9, LastProducerEpoch: 3}
	fenceEpoch(&txn)
	if txn.ProducerID != 9 || txn.ProducerEpoch != 5 || txn.LastProducerID != -1 || txn.LastProducerEpoch != -1 {
		t.Fatalf("fenced to %+v, want 9/5 with no last pair", txn)
	}
	txn.ProducerEpoch = math.MaxInt16
	fenceEpoch(&txn)
	if txn.ProducerID != 9 || txn.ProducerEpoch != math.MaxInt16 {
		t.Fatalf("fenced at the last epoch to %d/%d, want it kept", txn.ProducerID, txn.ProducerEpoch)
	}
}

func TestRetriedInit(t *testing.T) {
	bumped := storage.Transaction{ProducerID: 5, ProducerEpoch: 3, LastProducerID: 5, LastProducerEpoch: 2, State: storage.TxnEmpty}
	rotated := storage.Transaction{ProducerID: 8, ProducerEpoch: 0, LastProducerID: 5, LastProducerEpoch: math.MaxInt16 - 1, State: storage.TxnEmpty}
	fresh := storage.Transaction{ProducerID: 5, ProducerEpoch: 3, LastProducerID: -1, LastProducerEpoch: -1, State: storage.TxnEmpty}
	ongoing := bumped
	ongoing.State = storage.TxnOngoing
	committed := bumped
	committed.State = storage.TxnCompleteCommit
	for _, tc := range []struct {
		name  string
		txn   storage.Transaction
		pid   int64
		epoch int16
		want  bool
	}{
		{"the pair replaced", bumped, 5, 2, true},
		{"an older epoch", bumped, 5, 1, false},
		{"another producer id", bumped, 6, 2, false},
		{"the pair replaced by a new producer id", rotated, 5, math.MaxInt16 - 1, true},
		{"an older epoch of the old producer id", rotated, 5, math.MaxInt16 - 2, false},
		{"after a new incarnation", fresh, -1, -1, false},
		{"a transaction since", ongoing, 5, 2, false},
		{"a committed transaction since", committed, 5, 2, false},
	} {
		if got := retriedInit(tc.txn, tc.pid, tc.epoch); got != tc.want {
			t.Errorf("%s: producer %d epoch %d against %+v: %v, want %v", tc.name, tc.pid, tc.epoch, tc.txn, got, tc.want)
		}
	}
}

func TestTxnIDSweepEvery(t *testing.T) {
	for _, tc := range []struct{ expiration, want time.Duration }{
		{DefaultTransactionalIDExpiration, time.Hour},
		{5 * time.Hour, 30 * time.Minute},
		{time.Minute, 6 * time.Second},
		{time.Second, txnTimeoutScanEvery},
		{time.Millisecond, txnTimeoutScanEvery},
	} {
		if got := txnIDSweepEvery(tc.expiration); got != tc.want {
			t.Errorf("idle transactional ids expiring after %v: looked for every %v, want %v", tc.expiration, got, tc.want)
		}
	}
}
