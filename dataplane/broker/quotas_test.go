package broker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/affluent-io/affluent/dataplane/storage"
)

func named(n string) *storage.QuotaName { return &storage.QuotaName{Name: n} }

var dflt = &storage.QuotaName{Default: true}

// TestClientQuotaPrecedence: Kafka's order (KIP-55), each key on its own,
// and the sensor (who shares the window) its metric tags give.
func TestClientQuotaPrecedence(t *testing.T) {
	all := []storage.ClientQuota{
		{Entity: storage.QuotaEntity{User: named("alice"), ClientID: named("app")}, Values: map[string]float64{"producer_byte_rate": 1}},
		{Entity: storage.QuotaEntity{User: named("alice"), ClientID: dflt}, Values: map[string]float64{"producer_byte_rate": 2}},
		{Entity: storage.QuotaEntity{User: named("alice")}, Values: map[string]float64{"producer_byte_rate": 3, "consumer_byte_rate": 30}},
		{Entity: storage.QuotaEntity{User: dflt, ClientID: named("app")}, Values: map[string]float64{"producer_byte_rate": 4}},
		{Entity: storage.QuotaEntity{User: dflt, ClientID: dflt}, Values: map[string]float64{"producer_byte_rate": 5}},
		{Entity: storage.QuotaEntity{User: dflt}, Values: map[string]float64{"producer_byte_rate": 6}},
		{Entity: storage.QuotaEntity{ClientID: named("app")}, Values: map[string]float64{"producer_byte_rate": 7}},
		{Entity: storage.QuotaEntity{ClientID: dflt}, Values: map[string]float64{"producer_byte_rate": 8, "request_percentage": 80}},
	}
	type want struct {
		bound        float64
		user, client string
		ok           bool
	}
	for _, tc := range []struct {
		name         string
		drop         int // entities all[:drop] are removed
		key          string
		user, client string
		want         want
	}{
		{"user and client id", 0, "producer_byte_rate", "alice", "app", want{1, "alice", "app", true}},
		{"user and default client id", 1, "producer_byte_rate", "alice", "app", want{2, "alice", "app", true}},
		{"user", 2, "producer_byte_rate", "alice", "app", want{3, "alice", "", true}},
		{"default user and client id", 3, "producer_byte_rate", "alice", "app", want{4, "alice", "app", true}},
		{"default user and default client id", 4, "producer_byte_rate", "alice", "app", want{5, "alice", "app", true}},
		{"default user", 5, "producer_byte_rate", "alice", "app", want{6, "alice", "", true}},
		{"client id", 6, "producer_byte_rate", "alice", "app", want{7, "", "app", true}},
		{"default client id", 7, "producer_byte_rate", "alice", "app", want{8, "", "app", true}},
		{"none", 8, "producer_byte_rate", "alice", "app", want{}},
		{"other user falls to defaults", 0, "producer_byte_rate", "bob", "app", want{4, "bob", "app", true}},
		{"other user and client", 0, "producer_byte_rate", "bob", "cli", want{5, "bob", "cli", true}},
		{"each key resolved on its own", 0, "consumer_byte_rate", "alice", "app", want{30, "alice", "", true}},
		{"key set only at the bottom", 0, "request_percentage", "alice", "app", want{80, "", "app", true}},
		{"key set nowhere", 0, "controller_mutation_rate", "alice", "app", want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := newClientQuotaSet(all[tc.drop:])
			bound, sensor, ok := set.resolve(tc.key, tc.user, tc.client)
			got := want{bound, sensor.user, sensor.client, ok}
			if got != tc.want {
				t.Fatalf("resolve(%s, %s, %s) = %+v, want %+v", tc.key, tc.user, tc.client, got, tc.want)
			}
		})
	}
}

func TestQuotaUser(t *testing.T) {
	for in, want := range map[string]string{"User:sa-1": "sa-1", "User:CN=a:b": "CN=a:b", "alice": "alice"} {
		if got := quotaUser(in); got != want {
			t.Errorf("quotaUser(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFreshCache: values are reused within the TTL, reloaded after it or
// after invalidate, and a failed reload keeps the last value.
func TestFreshCache(t *testing.T) {
	var loads atomic.Int32
	var fail atomic.Bool
	c := newFreshCache(50*time.Millisecond, func(_ context.Context, key string) (int32, error) {
		if fail.Load() {
			return 0, errors.New("down")
		}
		return loads.Add(1), nil
	})
	ctx := context.Background()
	get := func() int32 {
		t.Helper()
		v, err := c.get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := get(); v != 1 {
		t.Fatalf("first get = %d, want 1", v)
	}
	if v := get(); v != 1 {
		t.Fatalf("get within the TTL = %d, want the cached 1", v)
	}
	c.invalidate("k")
	if v := get(); v != 2 {
		t.Fatalf("get after invalidate = %d, want 2", v)
	}
	time.Sleep(60 * time.Millisecond)
	if v := get(); v != 3 {
		t.Fatalf("get after the TTL = %d, want 3", v)
	}
	fail.Store(true)
	time.Sleep(60 * time.Millisecond)
	if v := get(); v != 3 {
		t.Fatalf("get when the reload fails = %d, want the last value 3", v)
	}
	if _, err := c.get(ctx, "other"); err == nil {
		t.Fatal("first load failing: want its error")
	}
}

// TestQuotaSensorsAreBounded: client ids are the client's to choose; past
// maxSensorsPerCluster a cluster's new sensors share one window, and
// another cluster is not affected.
func TestQuotaSensorsAreBounded(t *testing.T) {
	q := newQuotas(Config{QuotaWindowSamples: 11, QuotaWindowSize: time.Second})
	for i := range maxSensorsPerCluster + 500 {
		q.window(quotaSensor{cluster: "lkc-a", key: "producer_byte_rate", client: fmt.Sprint("id-", i)})
	}
	if n := len(q.sensors); n != maxSensorsPerCluster+1 {
		t.Fatalf("%d windows, want %d and one shared", n, maxSensorsPerCluster+1)
	}
	over1 := q.window(quotaSensor{cluster: "lkc-a", key: "producer_byte_rate", client: "yet-another"})
	over2 := q.window(quotaSensor{cluster: "lkc-a", key: "producer_byte_rate", client: "and-another"})
	if over1 != over2 {
		t.Fatal("sensors past the cap do not share a window")
	}
	if w := q.window(quotaSensor{cluster: "lkc-b", key: "producer_byte_rate", client: "id-0"}); w == over1 {
		t.Fatal("another cluster's sensor landed in the overflow window")
	}
}
