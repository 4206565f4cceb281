package tiered

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// crashSteps are the points where a compaction can die: after writing a
// segment object, after writing all of them, inside the swap transaction
// before it commits, after it committed, and in GC between deleting an
// object and dequeuing it.
var crashSteps = []string{"segment-committed", "segments-written", "swap-before-commit", "swap-committed", "gc-object-deleted"}

// TestCompactionCrashSafety crashes a compaction at each step (20 runs
// spread over the backends, at varying occurrences of the step), restarts
// the store, and checks that every committed record is readable exactly
// once, in order, and that what the crash left behind is collected.
func TestCompactionCrashSafety(t *testing.T) {
	const iterations = 20
	for i := range iterations {
		step := crashSteps[i%len(crashSteps)]
		occurrence := 1 + (i/len(crashSteps))%3
		b := testBackends[i%len(testBackends)]
		if only := os.Getenv("AFFLUENT_STORAGE_BACKENDS"); only != "" && !strings.Contains(only, b.name) {
			b = testBackends[0]
		}
		t.Run(fmt.Sprintf("%02d-%s-%d-%s", i, step, occurrence, b.name), func(t *testing.T) {
			crashOnce(t, backendConfig(t, b), step, occurrence)
		})
	}
}

func crashOnce(t *testing.T, cfg Config, step string, occurrence int) {
	ctx := context.Background()
	clock := &testClock{}
	cfg = compactionConfig(cfg, clock)
	cfg.SegmentIndexBytes = 2 << 10
	s := openStore(t, cfg)
	for _, topic := range []struct {
		name    string
		configs map[string]string
	}{
		{"log", map[string]string{"segment.bytes": "8192"}},
		{"table", map[string]string{"segment.bytes": "8192", "cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"}},
	} {
		if _, err := s.CreateTopic(ctx, "c", topic.name, 2, topic.configs); err != nil {
			t.Fatal(err)
		}
	}
	logValues := make([][]string, 2)
	latest := make([]map[string]string, 2) // of the table topic
	round := 0
	produce := func(s *Store) {
		var wg sync.WaitGroup
		for p := range 2 {
			wg.Go(func() {
				tp := storage.TopicPartition{Cluster: "c", Topic: "log", Partition: int32(p)}
				logValues[p] = append(logValues[p], produceValues(t, s, tp, fmt.Sprintf("r%dp%d", round, p), 8, 4, 300, clock.now().UnixMilli())...)
			})
			wg.Go(func() {
				tp := storage.TopicPartition{Cluster: "c", Topic: "table", Partition: int32(p)}
				if latest[p] == nil {
					latest[p] = map[string]string{}
				}
				for b := range 8 {
					var kvs []kv
					for k := range 6 {
						key := fmt.Sprintf("key%d", (b+k)%10)
						value := fmt.Sprintf("r%d-b%d-k%d-%s", round, b, k, strings.Repeat("x", 200))
						kvs = append(kvs, kv{[]byte(key), []byte(value)})
						latest[p][key] = value
					}
					mustAppend(t, s, tp, makeBatch(t, batchSpec{kvs: kvs, firstTS: clock.now().UnixMilli(), codec: kgo.CodecGzip}))
				}
			})
		}
		wg.Wait()
		round++
	}
	produce(s)
	mustCompact(t, s)
	produce(s) // WAL data to roll, open segments to merge, a dirty section to clean

	var (
		mu      sync.Mutex
		seen    int
		crashed bool
	)
	compactionHook = func(at string) error {
		mu.Lock()
		defer mu.Unlock()
		if at == step {
			if seen++; seen == occurrence {
				crashed = true
			}
		}
		if crashed { // the process is dead: every worker stops at its next step
			return errCrash
		}
		return nil
	}
	_, err := s.Compact(ctx)
	compactionHook = nil
	if seen < occurrence {
		t.Logf("step %s reached %d times, not %d: no crash", step, seen, occurrence)
	} else if !errors.Is(err, errCrash) {
		t.Fatalf("compaction crashed at %s: %v, want the simulated crash", step, err)
	}
	// A crash also leaves a temp file of a write it interrupted.
	if strings.HasPrefix(cfg.ObjectStoreURL, "file://") {
		dir := strings.TrimPrefix(cfg.ObjectStoreURL, "file://")
		stray := filepath.Join(dir, "seg", "stray."+fmt.Sprintf("%x", time.Now().Add(-time.Hour).UnixNano())+".tmp")
		if err := os.MkdirAll(filepath.Dir(stray), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(stray, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, cfg) // the restart
	verifyCrashRun(t, s, logValues, latest, "after the crash")
	mustCompact(t, s)
	produce(s)
	mustCompact(t, s)
	clock.advance(s.cfg.OrphanGrace + time.Minute)
	mustCompact(t, s)
	verifyCrashRun(t, s, logValues, latest, "after recovery")
	for _, key := range listObjects(t, cfg, "") {
		if strings.HasSuffix(key, tempSuffix) {
			if strings.Contains(key, "stray") {
				t.Errorf("temp file %s of an interrupted write is left", key)
			}
			continue // the spare WAL writer's
		}
		if ref, err := s.referenced(ctx, key); err != nil || !ref {
			t.Errorf("object %s is left unreferenced (%v)", key, err)
		}
	}
}

func verifyCrashRun(t *testing.T, s *Store, logValues [][]string, latest []map[string]string, when string) {
	t.Helper()
	for p := range 2 {
		tp := storage.TopicPartition{Cluster: "c", Topic: "log", Partition: int32(p)}
		sameStrings(t, fmt.Sprintf("%s: log/%d", when, p), valuesOf(readRecords(t, s, tp, 0)), logValues[p])
		tp.Topic = "table"
		last := map[string]string{}
		for _, r := range readRecords(t, s, tp, 0) {
			last[string(r.key)] = string(r.value)
		}
		if len(last) != len(latest[p]) {
			t.Fatalf("%s: table/%d has %d keys, want %d", when, p, len(last), len(latest[p]))
		}
		for k, v := range latest[p] {
			if last[k] != v {
				t.Fatalf("%s: table/%d key %s reads %.20q, want %.20q", when, p, k, last[k], v)
			}
		}
	}
}
