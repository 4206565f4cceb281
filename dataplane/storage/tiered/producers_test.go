package tiered

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/affluent-io/affluent/dataplane/storage"
)

func TestSequenceArithmetic(t *testing.T) {
	for _, c := range []struct {
		first, delta, last int32
	}{
		{0, 0, 0},
		{5, 4, 9},
		{math.MaxInt32, 0, math.MaxInt32},
		{math.MaxInt32 - 1, 3, 1}, // MaxInt32-1, MaxInt32, 0, 1
		{math.MaxInt32, 1, 0},
	} {
		if got := lastSequence(c.first, c.delta); got != c.last {
			t.Errorf("lastSequence(%d, %d) = %d, want %d", c.first, c.delta, got, c.last)
		}
	}
	if !inSequence(math.MaxInt32, 0) || !inSequence(4, 5) || inSequence(4, 6) || inSequence(math.MaxInt32, 1) {
		t.Error("inSequence disagrees with Kafka's wrap-around rule")
	}
}

func TestProducerStateRules(t *testing.T) {
	st := &producerState{epoch: 2}
	for seq := int32(0); seq < 7*3; seq += 3 {
		st.accept(2, seq, seq+2, &pendingBatch{result: storage.AppendResult{BaseOffset: int64(seq) * 10}})
	}
	if len(st.recent) != producerWindow || st.recent[0].firstSeq != 6 || st.lastSeq != 20 {
		t.Fatalf("window %+v lastSeq %d, want the 5 newest batches and 20", st.recent, st.lastSeq)
	}
	for _, c := range []struct {
		name        string
		epoch       int16
		first, last int32
		dup         bool
		err         error
	}{
		{"duplicate in window", 2, 9, 11, true, nil},
		{"too old for the window", 2, 0, 2, false, storage.ErrOutOfOrderSequence},
		{"next", 2, 21, 21, false, nil},
		{"gap", 2, 22, 22, false, storage.ErrOutOfOrderSequence},
		{"stale epoch", 1, 21, 21, false, storage.ErrInvalidProducerEpoch},
		{"new epoch from 0", 3, 0, 0, false, nil},
		{"new epoch not from 0", 3, 21, 21, false, storage.ErrOutOfOrderSequence},
	} {
		dup, err := st.check(c.epoch, c.first, c.last)
		if (dup != nil) != c.dup || !errors.Is(err, c.err) {
			t.Errorf("%s: dup %v err %v, want dup %v err %v", c.name, dup, err, c.dup, c.err)
		}
	}
	var unknown *producerState
	if dup, err := unknown.check(0, 12345, 12345); dup != nil || err != nil {
		t.Errorf("unknown producer: %v %v, want accepted", dup, err)
	}

	decoded, err := decodeRecent(st.encodeRecent())
	if err != nil {
		t.Fatal(err)
	}
	want := make([]producerEntry, len(st.recent))
	for i, e := range st.recent {
		want[i] = producerEntry{firstSeq: e.firstSeq, lastSeq: e.lastSeq, baseOffset: e.pending.result.BaseOffset}
	}
	if !reflect.DeepEqual(decoded, want) {
		t.Fatalf("decoded %+v, want %+v", decoded, want)
	}
	if _, err := decodeRecent("1 2 3"); err == nil {
		t.Fatal("decoding a truncated window succeeded")
	}
}
