package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/dataplane/storage/tiered"
)

const recordSize = 1024

// values are incompressible record values: benchmarks must not measure how
// well zeros compress.
var values = func() [][]byte {
	vs := make([][]byte, 256)
	for i := range vs {
		vs[i] = make([]byte, recordSize)
		_, _ = rand.Read(vs[i])
	}
	return vs
}()

// Scenario is one measured workload, run against every system.
type Scenario struct {
	Name string
	Unit string
	// HigherIsBetter says how to read the ratios.
	HigherIsBetter bool
	// Limit is the machine limit this figure is compared with, if any.
	Limit func(Limits) float64
	// Fresh restarts the system (same data) before the scenario: a cold
	// cache, and no memory freed by earlier scenarios to blur figures.
	Fresh bool
	// AffluentOnly marks scenarios of the control plane, which the peer
	// does not have.
	AffluentOnly bool
	// Run measures the scenario against sys; prior holds this system's
	// earlier results (for rates derived from a measured maximum).
	Run func(ctx context.Context, env *runEnv) (Measurement, error)
}

// Measurement is one figure with the number of raw samples behind it.
type Measurement struct {
	Value   float64            `json:"value"`
	Samples int                `json:"samples"`
	Extra   map[string]float64 `json:"extra,omitempty"`
	// Note qualifies the figures (how the scale-out brokers were
	// budgeted).
	Note string `json:"note,omitempty"`
}

type runEnv struct {
	opts  options
	sys   *System
	prior map[string]Measurement
	// restart replaces sys with a fresh child on the same data directory.
	restart func(ctx context.Context) error
}

func (o options) duration() time.Duration {
	if o.quick {
		return 4 * time.Second
	}
	return 15 * time.Second
}

func scenarios(opts options) []Scenario {
	d := opts.duration()
	return []Scenario{
		{
			Name: "produce throughput (acks=all, idempotent, 16 partitions)", Unit: "MiB/s", HigherIsBetter: true,
			Limit: func(l Limits) float64 { return l.DiskFsyncWriteMBps },
			Run: func(ctx context.Context, env *runEnv) (Measurement, error) {
				return produceThroughput(ctx, env, "bench-produce", 1, 16, d)
			},
		},
		{
			Name: "consume throughput from the tail (hot)", Unit: "MiB/s", HigherIsBetter: true,
			Limit: func(l Limits) float64 { return l.LoopbackMBps },
			Run: func(ctx context.Context, env *runEnv) (Measurement, error) {
				return consumeThroughput(ctx, env, "bench-produce")
			},
		},
		{
			Name: "consume throughput from the beginning (after restart)", Unit: "MiB/s", HigherIsBetter: true,
			Limit: func(l Limits) float64 { return l.LoopbackMBps }, Fresh: true,
			Run: func(ctx context.Context, env *runEnv) (Measurement, error) {
				return consumeThroughput(ctx, env, "bench-produce")
			},
		},
		{
			Name: "produce latency p99 at half the measured maximum", Unit: "ms",
			Limit: durableAckFloor,
			Run: func(ctx context.Context, env *runEnv) (Measurement, error) {
				return produceLatency(ctx, env, d)
			},
		},
		{
			Name: "end-to-end latency p99 (produce → poll, 1000 records/s)", Unit: "ms",
			Limit: durableAckFloor,
			Run: func(ctx context.Context, env *runEnv) (Measurement, error) {
				return endToEndLatency(ctx, env, d)
			},
		},
		{
			Name: "produce throughput, 10,000 partitions over 100 topics", Unit: "MiB/s", HigherIsBetter: true,
			Limit: func(l Limits) float64 { return l.DiskFsyncWriteMBps },
			Run: func(ctx context.Context, env *runEnv) (Measurement, error) {
				m, err := produceThroughput(ctx, env, "bench-wide", 100, 100, d)
				if err != nil {
					return m, err
				}
				rss, err := env.sys.RSSBytes()
				if err != nil {
					return m, err
				}
				m.Extra["broker_rss_mib"] = float64(rss) / (1 << 20)
				return m, nil
			},
		},
		{
			Name: "scale-out: produce throughput of 4 brokers (3 before), PostgreSQL + S3, 48 partitions, 4 clients", Unit: "MiB/s",
			HigherIsBetter: true, AffluentOnly: true,
			Run: scaleOut,
		},
		{
			Name: "serverless cluster create → RUNNING p99 (idle tenants, 1 topic each)", Unit: "ms", AffluentOnly: true, Fresh: true,
			Run: func(ctx context.Context, env *runEnv) (Measurement, error) {
				n := 1000
				if opts.quick {
					n = 200
				}
				return idleTenants(ctx, env, n)
			},
		},
		{
			Name: "control plane REST p99, 50 concurrent clients (create/get/list)", Unit: "ms", AffluentOnly: true,
			Run: func(ctx context.Context, env *runEnv) (Measurement, error) {
				return restLatency(ctx, env, d)
			},
		},
	}
}

// durableAckFloor is the least latency a durable acknowledgement can have:
// one fsync plus the write buffer's linger.
func durableAckFloor(l Limits) float64 { return l.FsyncLatencyP50Ms + ms(tiered.DefaultLinger) }

func createTopics(ctx context.Context, sys *System, prefix string, topics, partitions int) ([]string, error) {
	cl, err := sys.Client()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	names := make([]string, topics)
	for i := range names {
		names[i] = prefix
		if topics > 1 {
			names[i] = fmt.Sprintf("%s-%03d", prefix, i)
		}
	}
	for start := 0; start < len(names); start += 20 {
		end := min(start+20, len(names))
		resp, err := adm.CreateTopics(ctx, int32(partitions), -1, nil, names[start:end]...)
		if err != nil {
			return nil, fmt.Errorf("create topics: %w", err)
		}
		for _, r := range resp.Sorted() {
			if r.Err != nil {
				return nil, fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
			}
		}
	}
	return names, nil
}

// produceThroughput produces 1 KiB records as fast as the client allows for
// d and reports acknowledged MiB/s.
func produceThroughput(ctx context.Context, env *runEnv, prefix string, topics, partitions int, d time.Duration) (Measurement, error) {
	names, err := createTopics(ctx, env.sys, prefix, topics, partitions)
	if err != nil {
		return Measurement{}, err
	}
	cl, err := env.sys.Client(kgo.MaxBufferedRecords(64<<10), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return Measurement{}, err
	}
	defer cl.Close()
	var acked, failed atomic.Int64
	var firstErr atomic.Value
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err)
			return
		}
		acked.Add(1)
	}
	start := time.Now()
	for i := 0; time.Since(start) < d && ctx.Err() == nil; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: names[i%len(names)], Value: values[i%len(values)]}, done)
	}
	if err := cl.Flush(ctx); err != nil {
		return Measurement{}, err
	}
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		return Measurement{}, fmt.Errorf("%d records failed, first: %v", f, firstErr.Load())
	}
	n := acked.Load()
	return Measurement{
		Value:   mbps(n*recordSize, elapsed),
		Samples: int(n),
		Extra:   map[string]float64{"records_per_s": float64(n) / elapsed.Seconds()},
	}, nil
}

// consumeThroughput reads the whole topic from the beginning.
func consumeThroughput(ctx context.Context, env *runEnv, topic string) (Measurement, error) {
	want := env.prior["produce throughput (acks=all, idempotent, 16 partitions)"].Samples
	cl, err := env.sys.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(8<<20))
	if err != nil {
		return Measurement{}, err
	}
	defer cl.Close()
	var got, bytes int64
	start := time.Now()
	deadline := time.Now().Add(5 * time.Minute)
	for got < int64(want) && time.Now().Before(deadline) && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil && err != context.Canceled {
			return Measurement{}, err
		}
		fs.EachRecord(func(r *kgo.Record) { got++; bytes += int64(len(r.Value)) })
	}
	elapsed := time.Since(start)
	if got < int64(want) {
		return Measurement{}, fmt.Errorf("consumed %d of %d records", got, want)
	}
	return Measurement{Value: mbps(bytes, elapsed), Samples: int(got)}, nil
}

// produceLatency produces at half this system's measured maximum rate and
// reports the p99 of produce→acknowledgement latency (p50 and p999 too).
func produceLatency(ctx context.Context, env *runEnv, d time.Duration) (Measurement, error) {
	maxRate := env.prior["produce throughput (acks=all, idempotent, 16 partitions)"].Extra["records_per_s"]
	rate := maxRate / 2
	if rate < 1 {
		return Measurement{}, fmt.Errorf("no measured maximum rate")
	}
	names, err := createTopics(ctx, env.sys, "bench-latency", 1, 16)
	if err != nil {
		return Measurement{}, err
	}
	cl, err := env.sys.Client(kgo.MaxBufferedRecords(1<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return Measurement{}, err
	}
	defer cl.Close()
	var mu sync.Mutex // guards samples
	samples := make([]time.Duration, 0, int(rate*d.Seconds())+16)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; time.Since(start) < d && ctx.Err() == nil; i++ {
		// Open-loop schedule: record i is due at start + i*interval, so a
		// slow acknowledgement does not slow the offered load.
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		sent := time.Now()
		cl.Produce(ctx, &kgo.Record{Topic: names[0], Value: values[i%len(values)]}, func(_ *kgo.Record, err error) {
			if err != nil {
				return
			}
			lat := time.Since(sent)
			mu.Lock()
			samples = append(samples, lat)
			mu.Unlock()
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return Measurement{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	return latencyMeasurement(samples, map[string]float64{"rate_records_per_s": rate})
}

// endToEndLatency measures produce → consumer poll at 1000 records/s; the
// send time travels in the record value.
func endToEndLatency(ctx context.Context, env *runEnv, d time.Duration) (Measurement, error) {
	names, err := createTopics(ctx, env.sys, "bench-e2e", 1, 4)
	if err != nil {
		return Measurement{}, err
	}
	prod, err := env.sys.Client(kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return Measurement{}, err
	}
	defer prod.Close()
	cons, err := env.sys.Client(kgo.ConsumeTopics(names[0]), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return Measurement{}, err
	}
	defer cons.Close()
	const rate = 1000
	total := int(d.Seconds() * rate)
	samples := make([]time.Duration, 0, total)
	consumed := make(chan struct{})
	base := time.Now()
	go func() {
		defer close(consumed)
		for len(samples) < total && ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			now := time.Since(base)
			fs.EachRecord(func(r *kgo.Record) {
				sent := time.Duration(binary.BigEndian.Uint64(r.Value))
				samples = append(samples, now-sent)
			})
		}
	}()
	// Let the consumer join before the clock starts.
	time.Sleep(500 * time.Millisecond)
	interval := time.Second / rate
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		v := append([]byte(nil), values[i%len(values)]...)
		binary.BigEndian.PutUint64(v, uint64(time.Since(base)))
		prod.Produce(ctx, &kgo.Record{Topic: names[0], Value: v}, nil)
	}
	select {
	case <-consumed:
	case <-time.After(d + 30*time.Second):
		return Measurement{}, fmt.Errorf("consumed %d of %d records", len(samples), total)
	}
	return latencyMeasurement(samples, nil)
}

func latencyMeasurement(samples []time.Duration, extra map[string]float64) (Measurement, error) {
	if len(samples) == 0 {
		return Measurement{}, fmt.Errorf("no samples")
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	q := func(p float64) float64 { return ms(samples[min(len(samples)-1, int(p*float64(len(samples))))]) }
	if extra == nil {
		extra = map[string]float64{}
	}
	extra["p50_ms"], extra["p99_ms"], extra["p999_ms"] = q(0.50), q(0.99), q(0.999)
	return Measurement{Value: q(0.99), Samples: len(samples), Extra: extra}, nil
}

// profileScenario fetches a CPU profile of the system while fn runs, and a
// heap profile after it.
func profileScenario(ctx context.Context, opts options, sys *System, name string, fn func() error) error {
	if !opts.profile {
		return fn()
	}
	secs := int(opts.duration().Seconds())
	cpuDone := make(chan error, 1)
	go func() {
		cpuDone <- fetchProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", sys.PprofAddr, secs),
			filepath.Join(opts.out, fmt.Sprintf("%s-%s.cpu.prof", sys.Name, slug(name))))
	}()
	err := fn()
	if perr := <-cpuDone; perr != nil {
		fmt.Fprintln(os.Stderr, "cpu profile:", perr)
	}
	if perr := fetchProfile(ctx, "http://"+sys.PprofAddr+"/debug/pprof/heap",
		filepath.Join(opts.out, fmt.Sprintf("%s-%s.heap.prof", sys.Name, slug(name)))); perr != nil {
		fmt.Fprintln(os.Stderr, "heap profile:", perr)
	}
	return err
}

func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func slug(s string) string {
	out := make([]byte, 0, len(s))
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			out = append(out, c)
		case len(out) > 0 && out[len(out)-1] != '-':
			out = append(out, '-')
		}
	}
	if len(out) > 40 {
		out = out[:40]
	}
	return string(out)
}
