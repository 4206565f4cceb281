package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is the whole run, written to latest.json.
type Report struct {
	Started time.Time `json:"started"`
	Elapsed string    `json:"elapsed"`
	Quick   bool      `json:"quick"`
	Machine Machine   `json:"machine"`
	Limits  Limits    `json:"limits"`
	Results []Result  `json:"results"`
}

// Machine describes where the run happened.
type Machine struct {
	Cores     int    `json:"cores"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	GoVersion string `json:"go_version"`
}

// Result is one scenario across systems, with ratios.
type Result struct {
	Scenario       string                 `json:"scenario"`
	Unit           string                 `json:"unit"`
	HigherIsBetter bool                   `json:"higher_is_better"`
	Systems        map[string]Measurement `json:"systems"`
	Limit          float64                `json:"limit,omitempty"`
	// VsPeer is affluent / kfake; VsLimit is affluent / limit.
	VsPeer  float64 `json:"vs_peer"`
	VsLimit float64 `json:"vs_limit,omitempty"`
}

func runAll(ctx context.Context, opts options, limits Limits) ([]Result, error) {
	scs := scenarios(opts)
	bySystem := map[string]map[string]Measurement{}
	systems := strings.Split(opts.systems, ",")
	for _, name := range systems {
		dataDir := filepath.Join(opts.dataDir, name)
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, err
		}
		sys, err := startSystem(ctx, name, dataDir)
		if err != nil {
			return nil, err
		}
		env := &runEnv{opts: opts, sys: sys, prior: map[string]Measurement{}}
		env.restart = func(ctx context.Context) error {
			if name == "kfake" {
				return nil // in memory: a restart would lose the data it is asked to read
			}
			env.sys.Stop()
			s, err := startSystem(ctx, name, dataDir)
			if err != nil {
				return err
			}
			env.sys = s
			return nil
		}
		for _, sc := range scs {
			if opts.only != "" && !strings.Contains(sc.Name, opts.only) || sc.AffluentOnly && name != "affluent" {
				continue
			}
			fmt.Fprintf(os.Stderr, "  %s: %s…\n", name, sc.Name)
			if sc.Fresh {
				if err := env.restart(ctx); err != nil {
					return nil, fmt.Errorf("%s: restart before %s: %w", name, sc.Name, err)
				}
			}
			var m Measurement
			err := profileScenario(ctx, opts, env.sys, sc.Name, func() error {
				var err error
				m, err = sc.Run(ctx, env)
				return err
			})
			if err != nil {
				env.sys.Stop()
				return nil, fmt.Errorf("%s: %s: %w", name, sc.Name, err)
			}
			env.prior[sc.Name] = m
		}
		env.sys.Stop()
		bySystem[name] = env.prior
	}

	var results []Result
	for _, sc := range scs {
		if opts.only != "" && !strings.Contains(sc.Name, opts.only) {
			continue
		}
		r := Result{Scenario: sc.Name, Unit: sc.Unit, HigherIsBetter: sc.HigherIsBetter, Systems: map[string]Measurement{}}
		for _, name := range systems {
			if m, ok := bySystem[name][sc.Name]; ok {
				r.Systems[name] = m
			}
		}
		ours, peer := r.Systems["affluent"].Value, r.Systems["kfake"].Value
		if peer > 0 {
			r.VsPeer = ours / peer
		}
		if sc.Limit != nil {
			r.Limit = sc.Limit(limits)
			if r.Limit > 0 {
				r.VsLimit = ours / r.Limit
			}
		}
		results = append(results, r)
	}
	return results, nil
}

// Markdown renders the results table.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Affluent benchmarks (%d cores, %s, quick=%v)\n\n", r.Machine.Cores, r.Machine.GoVersion, r.Quick)
	fmt.Fprintf(&b, "Machine limits: fsync'd 4 MiB writes %.1f MiB/s, fsync p50 %.2f ms, loopback TCP %.0f MiB/s.\n\n",
		r.Limits.DiskFsyncWriteMBps, r.Limits.FsyncLatencyP50Ms, r.Limits.LoopbackMBps)
	b.WriteString("| scenario | unit | affluent | kfake (in-memory peer) | limit | affluent/peer | affluent/limit | samples |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, res := range r.Results {
		ours, peer := res.Systems["affluent"], res.Systems["kfake"]
		limit, vsLimit, peerCell, vsPeer := "", "", "n/a", "n/a"
		if res.Limit > 0 {
			limit, vsLimit = fmt.Sprintf("%.2f", res.Limit), fmt.Sprintf("%.2f×", res.VsLimit)
		}
		if _, ok := res.Systems["kfake"]; ok {
			peerCell, vsPeer = fmt.Sprintf("%.2f%s", peer.Value, extras(peer)), fmt.Sprintf("%.2f×", res.VsPeer)
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f%s | %s | %s | %s | %s | %d / %d |\n",
			res.Scenario, res.Unit, ours.Value, extras(ours), peerCell, limit, vsPeer, vsLimit,
			ours.Samples, peer.Samples)
	}
	return b.String()
}

func extras(m Measurement) string {
	if len(m.Extra) == 0 {
		return ""
	}
	if _, ok := m.Extra["gain"]; ok {
		return scaleOutExtras(m.Extra, m.Note)
	}
	var parts []string
	for _, k := range []string{"p50_ms", "p999_ms", "records_per_s", "broker_rss_mib", "rss_per_tenant_kib", "heap_per_tenant_kib", "requests_per_s", "create_p99_ms", "get_p99_ms", "list_p99_ms"} {
		if v, ok := m.Extra[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f", strings.TrimSuffix(strings.TrimSuffix(k, "_ms"), "_mib"), v))
		}
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// scaleOutExtras renders the figures of the scale-out scenario: both
// throughputs, their ratio, and where the CPU went in each window (3/4
// brokers).
func scaleOutExtras(e map[string]float64, note string) string {
	pair := func(k string) string { return fmt.Sprintf("%.2f/%.2f", e[k+"_3"], e[k+"_4"]) }
	budget := note
	if _, ok := e["broker_budget_cores"]; ok {
		budget += fmt.Sprintf(", using %.0f%%/%.0f%% of their budgets with 3/4 brokers, throttled in %.0f%%/%.0f%% of quota periods",
			100*e["broker_budget_used_3"], 100*e["broker_budget_used_4"], 100*e["broker_throttled_3"], 100*e["broker_throttled_4"])
	}
	if e["most_leads_4"] > 0 {
		// Budget-bound brokers and load spread evenly over partitions:
		// the broker leading most partitions sets the pace.
		budget += fmt.Sprintf("; partitions led per broker %.0f–%.0f with 3, %.0f–%.0f with 4",
			e["fewest_leads_3"], e["most_leads_3"], e["fewest_leads_4"], e["most_leads_4"])
		if _, ok := e["broker_budget_cores"]; ok {
			budget += fmt.Sprintf(" (the busiest broker bounds the gain at ×%.2f)", e["most_leads_3"]/e["most_leads_4"])
		}
	}
	return fmt.Sprintf(" (%s; 3 brokers %.2f MiB/s → 4 brokers %.2f MiB/s: ×%.2f; the 4th led %.0f of %.0f partitions %.0f ms after it started, %.0f at the end; "+
		"cores busy with 3/4 brokers: machine %s, brokers %s (the 4th %.2f), PostgreSQL %s, S3 %s, clients %s, other processes %s; "+
		"PostgreSQL commits/s %s; MiB/s per core the cell used %s, per core the brokers used %s)",
		budget, e["three_brokers_mib_s"], e["four_brokers_mib_s"], e["gain"], e["fourth_leads"], e["partitions"], e["join_ms"], e["fourth_leads_end"],
		pair("busy_cores"), pair("broker_cores"), e["fourth_broker_cores"], pair("postgres_cores"), pair("s3_cores"), pair("client_cores"),
		pair("other_cores"), fmt.Sprintf("%.0f/%.0f", e["db_commits_per_s_3"], e["db_commits_per_s_4"]),
		fmt.Sprintf("%.1f/%.1f", e["mib_s_per_cell_core_3"], e["mib_s_per_cell_core_4"]),
		fmt.Sprintf("%.0f/%.0f", e["mib_s_per_broker_core_3"], e["mib_s_per_broker_core_4"]))
}
