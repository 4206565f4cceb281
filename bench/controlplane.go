package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// restClient calls the REST API with the bench's cloud API key.
type restClient struct {
	sys  *System
	http *http.Client
}

func newRESTClient(sys *System) *restClient {
	return &restClient{sys: sys, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}}
}

// do sends one request and decodes the JSON answer into out (if not nil).
func (c *restClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.sys.REST+path, rd)
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.sys.CloudKey, c.sys.CloudSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// idleSettle is how long tenants sit untouched before their memory is
// measured: longer than the platform's idle timeout for admin connections.
const idleSettle = 8 * time.Second

type benchCluster struct {
	ID     string `json:"id"`
	Status struct {
		Phase string `json:"phase"`
	} `json:"status"`
}

// idleTenants creates n serverless clusters, each with one topic, measuring
// each cluster's time from create to RUNNING, and the process's resident
// memory per tenant once they all idle.
func idleTenants(ctx context.Context, env *runEnv, n int) (Measurement, error) {
	sys := env.sys
	c := newRESTClient(sys)
	before, err := sys.RSSBytes()
	if err != nil {
		return Measurement{}, err
	}
	heapBefore, err := sys.HeapInuseAfterGC(ctx)
	if err != nil {
		return Measurement{}, err
	}
	const workers = 8
	var mu sync.Mutex // guards ready and firstErr
	var ready []time.Duration
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				d, err := createIdleTenant(ctx, c, i)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				ready = append(ready, d)
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return Measurement{}, firstErr
	}
	// Idle means idle: connections opened to create the topics close
	// after a few seconds without use.
	time.Sleep(idleSettle)
	after, err := sys.RSSBytes()
	if err != nil {
		return Measurement{}, err
	}
	heapAfter, err := sys.HeapInuseAfterGC(ctx)
	if err != nil {
		return Measurement{}, err
	}
	m, err := latencyMeasurement(ready, nil)
	if err != nil {
		return m, err
	}
	m.Extra["rss_per_tenant_kib"] = float64(after-before) / float64(n) / 1024
	m.Extra["heap_per_tenant_kib"] = float64(heapAfter-heapBefore) / float64(n) / 1024
	m.Extra["tenants"] = float64(n)
	return m, nil
}

func createIdleTenant(ctx context.Context, c *restClient, i int) (time.Duration, error) {
	start := time.Now()
	var cl benchCluster
	body := map[string]any{"display_name": fmt.Sprintf("idle-%05d", i), "spec": map[string]string{"type": "SERVERLESS"}}
	if err := c.do(ctx, http.MethodPost, "/v1/environments/"+c.sys.Env+"/clusters", body, &cl); err != nil {
		return 0, err
	}
	for cl.Status.Phase != "RUNNING" {
		if cl.Status.Phase == "FAILED" {
			return 0, fmt.Errorf("cluster %s failed", cl.ID)
		}
		if time.Since(start) > 30*time.Second {
			return 0, fmt.Errorf("cluster %s not RUNNING after 30s (phase %s)", cl.ID, cl.Status.Phase)
		}
		time.Sleep(2 * time.Millisecond)
		if err := c.do(ctx, http.MethodGet, "/v1/environments/"+c.sys.Env+"/clusters/"+cl.ID, nil, &cl); err != nil {
			return 0, err
		}
	}
	readyAfter := time.Since(start)
	topic := map[string]any{"name": "events", "partitions_count": 1}
	if err := c.do(ctx, http.MethodPost, "/v1/environments/"+c.sys.Env+"/clusters/"+cl.ID+"/topics", topic, nil); err != nil {
		return 0, err
	}
	return readyAfter, nil
}

// restLatency runs 50 concurrent clients, each looping create → get → list
// of service accounts for d, and reports the p99 over all calls.
func restLatency(ctx context.Context, env *runEnv, d time.Duration) (Measurement, error) {
	c := newRESTClient(env.sys)
	const clients = 50
	type sample struct {
		op  string
		lat time.Duration
	}
	var mu sync.Mutex // guards samples and firstErr
	var samples []sample
	var firstErr error
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				var sa struct {
					ID string `json:"id"`
				}
				steps := []struct {
					op           string
					method, path string
					body, out    any
				}{
					{"create", http.MethodPost, "/v1/service-accounts", map[string]string{"display_name": fmt.Sprintf("bench-%02d-%06d", w, i)}, &sa},
					{"get", http.MethodGet, "", nil, nil},
					{"list", http.MethodGet, "/v1/service-accounts?page_size=50", nil, nil},
				}
				for _, s := range steps {
					if s.op == "get" {
						s.path = "/v1/service-accounts/" + sa.ID
					}
					t := time.Now()
					err := c.do(ctx, s.method, s.path, s.body, s.out)
					lat := time.Since(t)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					samples = append(samples, sample{s.op, lat})
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return Measurement{}, firstErr
	}
	byOp := map[string][]time.Duration{}
	all := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		byOp[s.op] = append(byOp[s.op], s.lat)
		all = append(all, s.lat)
	}
	m, err := latencyMeasurement(all, nil)
	if err != nil {
		return m, err
	}
	for op, lats := range byOp {
		om, err := latencyMeasurement(lats, nil)
		if err != nil {
			return m, err
		}
		m.Extra[op+"_p50_ms"], m.Extra[op+"_p99_ms"] = om.Extra["p50_ms"], om.Extra["p99_ms"]
	}
	m.Extra["requests_per_s"] = float64(len(all)) / d.Seconds()
	return m, nil
}
