package tiered

import (
	"context"
	"testing"
	"time"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// TestStoredBytes: a cluster's stored bytes are its batches, in the WAL
// and, once merged, in segments (not counted twice), not another cluster's,
// and drop when a topic is deleted.
func TestStoredBytes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg)
		stored := func(cluster string) int64 {
			t.Helper()
			n, err := s.StoredBytes(ctx, cluster)
			if err != nil {
				t.Fatalf("stored bytes of %s: %v", cluster, err)
			}
			return n
		}
		if n := stored("lkc-a"); n != 0 {
			t.Fatalf("stored bytes of an empty cluster = %d, want 0", n)
		}
		createTopic(t, s, "lkc-a", "orders", 2)
		createTopic(t, s, "lkc-b", "orders", 1)
		var want int64
		for i := range 4 {
			// Timestamps of now: retention would drop older ones.
			b := makeBatch(t, batchSpec{records: 10, valueSize: 100, firstTS: time.Now().UnixMilli()})
			mustAppend(t, s, storage.TopicPartition{Cluster: "lkc-a", Topic: "orders", Partition: int32(i % 2)}, b)
			want += int64(len(b.Raw))
		}
		mustAppend(t, s, storage.TopicPartition{Cluster: "lkc-b", Topic: "orders"}, makeBatch(t, batchSpec{records: 3, firstTS: time.Now().UnixMilli()}))
		if got := stored("lkc-a"); got != want {
			t.Fatalf("stored bytes of lkc-a = %d, want %d (the batches appended)", got, want)
		}
		mustCompact(t, s)
		if got := stored("lkc-a"); got < want || got > want+want/2 {
			t.Fatalf("stored bytes of lkc-a after compaction = %d, want about %d", got, want)
		}
		if err := s.DeleteTopic(ctx, "lkc-a", "orders"); err != nil {
			t.Fatal(err)
		}
		if n := stored("lkc-a"); n != 0 {
			t.Fatalf("stored bytes after deleting the topic = %d, want 0", n)
		}
		if n := stored("lkc-b"); n == 0 {
			t.Fatal("stored bytes of lkc-b = 0, want its batch")
		}
	})
}
