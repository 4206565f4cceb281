package usage

import (
	"context"
	"errors"
	"testing"
	"time"
)

type captureSink struct {
	fail    bool
	records []Record
}

func (c *captureSink) RecordUsage(_ context.Context, records []Record) error {
	if c.fail {
		return errors.New("control plane down")
	}
	c.records = append(c.records, records...)
	return nil
}

func TestMeter(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 59, 59, 0, time.UTC)
	sink := &captureSink{}
	m := NewMeter(Options{Broker: "7", Sink: sink, Now: func() time.Time { return now }})
	ctx := context.Background()

	if !m.TryConnect("lkc-a", "User:x", 2) || !m.TryConnect("lkc-a", "User:y", 2) {
		t.Fatal("connections within the limit refused")
	}
	if m.TryConnect("lkc-a", "User:x", 2) {
		t.Fatal("a third connection with a limit of 2 was counted")
	}
	m.Add("lkc-a", "User:x", 100, 0, 1)
	m.Add("lkc-a", "User:y", 0, 50, 1)
	m.SetStorage("lkc-a", 3, 4096)

	sink.fail = true
	if err := m.Flush(ctx); err == nil {
		t.Fatal("flush to a failing sink: want its error")
	}
	sink.fail = false
	m.Disconnected("lkc-a", "User:y")
	now = now.Add(2 * time.Second) // the next hour
	m.Add("lkc-a", "User:x", 10, 0, 1)
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	h10, h11 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	got := map[string]Record{}
	for _, r := range sink.records {
		got[r.Hour.Format("15")+" "+r.Principal] = r
		if r.Broker != "7" || r.Cluster != "lkc-a" {
			t.Errorf("record %+v: want broker 7, cluster lkc-a", r)
		}
	}
	want := map[string]Record{
		"10 ":       {Hour: h10, BytesIn: 100, BytesOut: 50, Requests: 2, Connections: 2, Partitions: 3, StoredBytes: 4096},
		"10 User:x": {Hour: h10, Principal: "User:x", BytesIn: 100, Requests: 1, Connections: 1},
		"10 User:y": {Hour: h10, Principal: "User:y", BytesOut: 50, Requests: 1, Connections: 1},
		// The new hour holds the connections still open.
		"11 ":       {Hour: h11, BytesIn: 10, Requests: 1, Connections: 1},
		"11 User:x": {Hour: h11, Principal: "User:x", BytesIn: 10, Requests: 1, Connections: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("records %+v, want %d of them", sink.records, len(want))
	}
	for k, w := range want {
		g := got[k]
		g.Broker, g.Cluster = "", ""
		if g != w {
			t.Errorf("%s: %+v, want %+v", k, g, w)
		}
	}
	if n := m.Connections("lkc-a"); n != 1 {
		t.Errorf("open connections %d, want 1", n)
	}
}
