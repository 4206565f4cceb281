// Command bench measures Affluent side by side with a peer (franz-go's
// in-memory fake cluster, kfake) and with the limits of the machine it runs
// on (fsync'd sequential disk writes, loopback TCP), all in one run, and
// prints a Markdown table plus bench/results/latest.json.
//
// Every system under test runs in its own child process (this binary with
// -serve), so its memory is measured alone and profiles are its own.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"time"

	"github.com/affluent-io/affluent/internal/testutil"
)

type options struct {
	quick   bool
	profile bool
	out     string
	dataDir string
	only    string
	systems string
	// brokerCPUs is the CPU budget of each broker of the scale-out
	// scenario, in cores.
	brokerCPUs float64
}

func main() {
	// The scale-out scenario runs brokers as child processes of this
	// binary (testutil.LaunchBrokerProcess).
	testutil.MaybeServeBrokerProcess()
	var opts options
	serve := flag.String("serve", "", "internal: serve the named system (affluent or kfake) and print its address")
	flag.BoolVar(&opts.quick, "quick", false, "short run (under 3 minutes on 2 cores)")
	flag.BoolVar(&opts.profile, "profile", false, "write CPU and heap profiles of the system under test per scenario")
	flag.StringVar(&opts.out, "out", "bench/results", "directory for latest.json and profiles")
	flag.StringVar(&opts.dataDir, "data-dir", "", "directory for durable data (default: a temporary directory)")
	flag.StringVar(&opts.only, "only", "", "run only scenarios whose name contains this")
	flag.StringVar(&opts.systems, "systems", "affluent,kfake", "systems to measure, comma-separated")
	flag.Float64Var(&opts.brokerCPUs, "broker-cpus", float64(runtime.NumCPU())/16,
		"CPU budget of each broker process of the scale-out scenario, in cores (a cgroup quota; 0 leaves them unbudgeted)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if *serve != "" {
		if err := serveSystem(ctx, *serve, opts.dataDir); err != nil {
			fmt.Fprintln(os.Stderr, "bench serve:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, opts options) error {
	if opts.dataDir == "" {
		dir, err := os.MkdirTemp("", "affluent-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opts.dataDir = dir
	}
	if err := os.MkdirAll(opts.out, 0o755); err != nil {
		return err
	}
	started := time.Now()
	report := &Report{
		Started: started.UTC(),
		Quick:   opts.quick,
		Machine: Machine{Cores: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, GoVersion: runtime.Version()},
	}

	fmt.Fprintln(os.Stderr, "measuring machine limits…")
	limits, err := measureLimits(ctx, opts)
	if err != nil {
		return fmt.Errorf("machine limits: %w", err)
	}
	report.Limits = limits

	results, err := runAll(ctx, opts, limits)
	if err != nil {
		return err
	}
	report.Results = results
	report.Elapsed = time.Since(started).Round(time.Millisecond).String()

	raw, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(opts.out, "latest.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return err
	}
	fmt.Print(report.Markdown())
	fmt.Printf("\nraw results: %s (%s)\n", path, report.Elapsed)
	return nil
}
