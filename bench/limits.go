package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Limits are the machine's physical limits, measured in the same run as
// the systems, so ratios hold even when absolute speed drifts.
type Limits struct {
	// DiskFsyncWriteMBps: sequential writes of 4 MiB (the size of a WAL
	// object) each followed by fsync, in the data directory.
	DiskFsyncWriteMBps float64 `json:"disk_fsync_write_mbps"`
	// FsyncLatencyP50Ms: one small write followed by fsync.
	FsyncLatencyP50Ms float64 `json:"fsync_latency_p50_ms"`
	FsyncSamples      int     `json:"fsync_samples"`
	// LoopbackMBps: one TCP stream over loopback with 1 MiB buffers.
	LoopbackMBps float64 `json:"loopback_mbps"`
}

func measureLimits(ctx context.Context, opts options) (Limits, error) {
	var l Limits
	d := 2 * time.Second
	if opts.quick {
		d = 700 * time.Millisecond
	}
	// A limit is the best the machine did: shared machines only ever make
	// a round slower, never faster, so the maximum of three is the truest.
	for range 3 {
		disk, err := diskWriteMBps(ctx, opts.dataDir, d)
		if err != nil {
			return l, err
		}
		loop, err := loopbackMBps(ctx, d)
		if err != nil {
			return l, err
		}
		l.DiskFsyncWriteMBps, l.LoopbackMBps = max(l.DiskFsyncWriteMBps, disk), max(l.LoopbackMBps, loop)
	}
	var err error
	if l.FsyncLatencyP50Ms, l.FsyncSamples, err = fsyncLatency(ctx, opts.dataDir, d); err != nil {
		return l, err
	}
	return l, nil
}

func diskWriteMBps(ctx context.Context, dir string, d time.Duration) (float64, error) {
	path := filepath.Join(dir, "disk-limit.tmp")
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	defer f.Close()
	chunk := make([]byte, 4<<20)
	_, _ = rand.Read(chunk)
	var written int64
	start := time.Now()
	for time.Since(start) < d && ctx.Err() == nil {
		n, err := f.Write(chunk)
		if err != nil {
			return 0, fmt.Errorf("write %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("fsync %s: %w", path, err)
		}
		written += int64(n)
	}
	return mbps(written, time.Since(start)), nil
}

func fsyncLatency(ctx context.Context, dir string, d time.Duration) (float64, int, error) {
	path := filepath.Join(dir, "fsync-latency.tmp")
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, 4096)
	var samples []time.Duration
	start := time.Now()
	for time.Since(start) < d && ctx.Err() == nil {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return 0, 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, 0, err
		}
		samples = append(samples, time.Since(t))
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	return ms(samples[len(samples)/2]), len(samples), nil
}

func loopbackMBps(ctx context.Context, d time.Duration) (float64, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer lis.Close()
	received := make(chan int64, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			received <- 0
			return
		}
		defer c.Close()
		n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 1<<20))
		received <- n
	}()
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	for time.Since(start) < d && ctx.Err() == nil {
		if _, err := c.Write(buf); err != nil {
			return 0, err
		}
	}
	c.Close()
	n := <-received
	return mbps(n, time.Since(start)), nil
}

func mbps(bytes int64, d time.Duration) float64 {
	return float64(bytes) / (1 << 20) / d.Seconds()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
