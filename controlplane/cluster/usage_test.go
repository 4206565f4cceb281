package cluster_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/affluent-io/affluent/controlplane/cptest"
	"github.com/affluent-io/affluent/controlplane/store"
)

// TestGetClusterUsageREST: GET …/clusters/{id}/usage answers the hourly
// buckets brokers flushed, whole-cluster or per principal, and checks the
// range and the caller's rights like reading the cluster.
func TestGetClusterUsageREST(t *testing.T) {
	env := cptest.Start(t, "sqlite", cptest.Options{})
	b := env.Boot
	h0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if err := env.CP.Store().AddUsage(context.Background(), []store.UsageRecord{
		{Cluster: b.ClusterID, Hour: h0, Broker: "1", BytesIn: 1000, BytesOut: 3000, Requests: 7, Connections: 2, Partitions: 3, StoredBytes: 900},
		{Cluster: b.ClusterID, Principal: "User:" + b.ServiceAccountID, Hour: h0, Broker: "1", BytesIn: 1000, BytesOut: 3000, Requests: 7, Connections: 2},
	}); err != nil {
		t.Fatal(err)
	}
	get := func(query url.Values, key, secret string) (int, map[string]any) {
		t.Helper()
		u := env.BaseURL + "/v1/environments/" + b.EnvironmentID + "/clusters/" + b.ClusterID + "/usage?" + query.Encode()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.SetBasicAuth(key, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: %v: %s", u, err, body)
		}
		return resp.StatusCode, out
	}
	rng := url.Values{"start_time": {"2026-03-01T10:30:00Z"}, "end_time": {"2026-03-01T12:00:00Z"}}
	status, out := get(rng, b.CloudAPIKey, b.CloudAPISecret)
	buckets, _ := out["buckets"].([]any)
	if status != http.StatusOK || len(buckets) != 1 {
		t.Fatalf("usage: %d %v, want 200 and one bucket", status, out)
	}
	bucket := buckets[0].(map[string]any)
	for field, want := range map[string]any{"start_time": "2026-03-01T10:00:00Z", "end_time": "2026-03-01T11:00:00Z",
		"bytes_in": "1000", "bytes_out": "3000", "requests": "7", "connections": "2", "partitions": "3", "storage_bytes": "900"} {
		if bucket[field] != want {
			t.Errorf("bucket %s = %v, want %v", field, bucket[field], want)
		}
	}
	rng.Set("by_principal", "true")
	if _, out := get(rng, b.CloudAPIKey, b.CloudAPISecret); len(out["buckets"].([]any)) != 1 ||
		out["buckets"].([]any)[0].(map[string]any)["principal"] != "User:"+b.ServiceAccountID {
		t.Errorf("per principal: %v", out)
	}
	bad := url.Values{"start_time": {"2026-03-01T10:00:00Z"}, "end_time": {"2026-05-01T10:00:00Z"}}
	if status, out := get(bad, b.CloudAPIKey, b.CloudAPISecret); status != http.StatusBadRequest {
		t.Errorf("range of two months: %d %v, want 400", status, out)
	}
	if status, _ := get(rng, b.CloudAPIKey, "wrong"); status != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d, want 401", status)
	}
}
