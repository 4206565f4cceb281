package store

import (
	"context"
	"testing"
	"time"
)

// TestClusterUsage: counters add up over flushes and brokers, peaks keep
// the largest, per broker for connections (summed over brokers) and over
// brokers for partitions and storage; the range is [start hour, end).
func TestClusterUsage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		h0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		h1 := h0.Add(time.Hour)
		add := func(records ...UsageRecord) {
			t.Helper()
			if err := s.AddUsage(ctx, records); err != nil {
				t.Fatalf("add usage: %v", err)
			}
		}
		add(UsageRecord{Cluster: "lkc-a", Hour: h0, Broker: "1", BytesIn: 100, BytesOut: 10, Requests: 3, Connections: 2, Partitions: 5, StoredBytes: 1000},
			UsageRecord{Cluster: "lkc-a", Principal: "User:sa-1", Hour: h0, Broker: "1", BytesIn: 100, BytesOut: 10, Requests: 3, Connections: 2})
		add(UsageRecord{Cluster: "lkc-a", Hour: h0, Broker: "1", BytesIn: 50, Requests: 1, Connections: 1, Partitions: 4, StoredBytes: 1500},
			UsageRecord{Cluster: "lkc-a", Hour: h0, Broker: "2", BytesIn: 7, Requests: 1, Connections: 3, Partitions: 5, StoredBytes: 1400},
			UsageRecord{Cluster: "lkc-a", Hour: h1, Broker: "1", BytesOut: 9, Requests: 1, Connections: 1, Partitions: 6, StoredBytes: 1600},
			UsageRecord{Cluster: "lkc-b", Hour: h0, Broker: "1", BytesIn: 1 << 40, Requests: 1})

		got, err := s.ClusterUsage(ctx, "lkc-a", h0.Add(30*time.Minute), h1.Add(time.Minute), false)
		if err != nil {
			t.Fatal(err)
		}
		want := []UsageBucket{
			{Hour: h0, BytesIn: 157, BytesOut: 10, Requests: 5, Connections: 5, Partitions: 5, StoredBytes: 1500},
			{Hour: h1, BytesOut: 9, Requests: 1, Connections: 1, Partitions: 6, StoredBytes: 1600},
		}
		if len(got) != len(want) {
			t.Fatalf("buckets %+v, want %+v", got, want)
		}
		for i := range want {
			if !got[i].Hour.Equal(want[i].Hour) || got[i] != (UsageBucket{Hour: got[i].Hour, BytesIn: want[i].BytesIn, BytesOut: want[i].BytesOut,
				Requests: want[i].Requests, Connections: want[i].Connections, Partitions: want[i].Partitions, StoredBytes: want[i].StoredBytes}) {
				t.Errorf("bucket %d = %+v, want %+v", i, got[i], want[i])
			}
		}
		per, err := s.ClusterUsage(ctx, "lkc-a", h0, h1, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(per) != 1 || per[0].Principal != "User:sa-1" || per[0].BytesIn != 100 || per[0].Connections != 2 {
			t.Fatalf("per principal: %+v, want one bucket of User:sa-1 with 100 bytes in", per)
		}
		if none, err := s.ClusterUsage(ctx, "lkc-a", h1.Add(time.Hour), h1.Add(2*time.Hour), false); err != nil || len(none) != 0 {
			t.Fatalf("empty range: %+v, %v", none, err)
		}
	})
}
