// Command dashboards writes the Grafana dashboards of deploy/grafana from
// the short descriptions below, so that a panel is one line to read and
// review; `make generate` runs it and CI fails when the JSON is stale.
//
//	go run ./scripts/dashboards -out deploy/grafana
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// panel is one graph: PromQL queries (legend after "|"), a unit and a width
// in grid columns (24 per row).
type panel struct {
	title   string
	unit    string
	width   int
	kind    string // timeseries (default) or stat
	queries []query
}

type query struct{ expr, legend string }

type dashboard struct {
	uid, title, description string
	// clusterVariable adds a $cluster selector fed by the usage metrics.
	clusterVariable bool
	rows            []row
}

type row struct {
	title  string
	panels []panel
}

func q(expr, legend string) query { return query{expr, legend} }

var dashboards = []dashboard{
	{
		uid: "affluent-overview", title: "Affluent / Platform overview",
		description: "Traffic, errors and latency over every cluster; health of the control plane.",
		rows: []row{
			{"Traffic", []panel{
				{title: "Bytes in", unit: "Bps", width: 8, queries: []query{q(`sum(rate(affluent_kafka_cluster_bytes_in_total[5m]))`, "produce")}},
				{title: "Bytes out", unit: "Bps", width: 8, queries: []query{q(`sum(rate(affluent_kafka_cluster_bytes_out_total[5m]))`, "fetch")}},
				{title: "Connections", unit: "short", width: 8, queries: []query{q(`sum(affluent_kafka_cluster_connections)`, "connections")}},
			}},
			{"Requests", []panel{
				{title: "Requests by API", unit: "reqps", width: 12, queries: []query{q(`sum by (api) (rate(affluent_kafka_requests_total[5m]))`, "{{api}}")}},
				{title: "Errors by code", unit: "reqps", width: 12, queries: []query{q(`sum by (api, error_code) (rate(affluent_kafka_request_errors_total[5m]))`, "{{api}} {{error_code}}")}},
				{title: "Produce latency", unit: "s", width: 12, queries: []query{
					q(`histogram_quantile(0.99, sum by (le) (rate(affluent_kafka_request_duration_seconds_bucket{api="Produce"}[5m])))`, "p99"),
					q(`histogram_quantile(0.5, sum by (le) (rate(affluent_kafka_request_duration_seconds_bucket{api="Produce"}[5m])))`, "p50"),
				}},
				{title: "Fetch latency", unit: "s", width: 12, queries: []query{
					q(`histogram_quantile(0.99, sum by (le) (rate(affluent_kafka_request_duration_seconds_bucket{api="Fetch"}[5m])))`, "p99"),
					q(`histogram_quantile(0.5, sum by (le) (rate(affluent_kafka_request_duration_seconds_bucket{api="Fetch"}[5m])))`, "p50"),
				}},
			}},
			{"Security", []panel{
				{title: "Authentication failures", unit: "short", width: 12, queries: []query{q(`sum by (mechanism, reason) (rate(affluent_kafka_authentication_failures_total[5m]))`, "{{mechanism}} {{reason}}")}},
				{title: "Throttled time", unit: "s", width: 12, queries: []query{q(`sum by (cluster) (rate(affluent_kafka_cluster_throttle_seconds_total[5m]))`, "{{cluster}}")}},
			}},
			{"Control plane", []panel{
				{title: "API requests by code", unit: "reqps", width: 12, queries: []query{q(`sum by (grpc_code) (rate(grpc_server_handled_total[5m]))`, "{{grpc_code}}")}},
				{title: "API latency p99", unit: "s", width: 12, queries: []query{q(`histogram_quantile(0.99, sum by (le, grpc_method) (rate(grpc_server_handling_seconds_bucket[5m])))`, "{{grpc_method}}")}},
				{title: "Reconcile queue", unit: "short", width: 12, queries: []query{q(`sum(affluent_controlplane_reconcile_queue_depth)`, "pending")}},
				{title: "Build", kind: "stat", unit: "short", width: 12, queries: []query{q(`count by (version) (affluent_build_info)`, "{{version}}")}},
			}},
		},
	},
	{
		uid: "affluent-tenant", title: "Affluent / Tenant",
		description:     "One cluster (tenant): its traffic against its limits, its consumer groups, its storage.",
		clusterVariable: true,
		rows: []row{
			{"Traffic", []panel{
				{title: "Bytes in", unit: "Bps", width: 8, queries: []query{q(`sum(rate(affluent_kafka_cluster_bytes_in_total{cluster="$cluster"}[5m]))`, "produce")}},
				{title: "Bytes out", unit: "Bps", width: 8, queries: []query{q(`sum(rate(affluent_kafka_cluster_bytes_out_total{cluster="$cluster"}[5m]))`, "fetch")}},
				{title: "Requests", unit: "reqps", width: 8, queries: []query{q(`sum(rate(affluent_kafka_cluster_requests_total{cluster="$cluster"}[5m]))`, "requests")}},
				{title: "Throttled time", unit: "s", width: 8, queries: []query{q(`sum(rate(affluent_kafka_cluster_throttle_seconds_total{cluster="$cluster"}[5m]))`, "throttled")}},
				{title: "Connections", unit: "short", width: 8, queries: []query{q(`sum(affluent_kafka_cluster_connections{cluster="$cluster"})`, "connections")}},
				{title: "Partitions", unit: "short", width: 8, queries: []query{q(`max(affluent_kafka_cluster_partitions{cluster="$cluster"})`, "partitions")}},
			}},
			{"Topics", []panel{
				{title: "Bytes in by topic", unit: "Bps", width: 12, queries: []query{q(`sum by (topic) (rate(affluent_kafka_topic_bytes_in_total{cluster="$cluster"}[5m]))`, "{{topic}}")}},
				{title: "Bytes out by topic", unit: "Bps", width: 12, queries: []query{q(`sum by (topic) (rate(affluent_kafka_topic_bytes_out_total{cluster="$cluster"}[5m]))`, "{{topic}}")}},
			}},
			{"Consumers and storage", []panel{
				{title: "Consumer group lag", unit: "short", width: 12, queries: []query{q(`sum by (group) (max by (group, topic) (affluent_kafka_consumer_group_lag{cluster="$cluster"}))`, "{{group}}")}},
				{title: "Stored bytes", unit: "bytes", width: 12, queries: []query{q(`max(affluent_kafka_cluster_stored_bytes{cluster="$cluster"})`, "stored")}},
			}},
		},
	},
	{
		uid: "affluent-broker", title: "Affluent / Broker internals",
		description: "The tiered storage engine: write path, object store, metadata DB, compaction, caches.",
		rows: []row{
			{"Write path", []panel{
				{title: "WAL buffer", unit: "bytes", width: 8, queries: []query{q(`sum by (instance) (affluent_storage_wal_buffer_bytes)`, "{{instance}}")}},
				{title: "WAL objects awaiting compaction", unit: "short", width: 8, queries: []query{q(`max(affluent_storage_wal_pending_objects)`, "objects")}},
				{title: "Compaction lag", unit: "s", width: 8, queries: []query{q(`max(affluent_storage_compaction_lag_seconds)`, "lag")}},
			}},
			{"Stores", []panel{
				{title: "Object store p99 by operation", unit: "s", width: 12, queries: []query{q(`histogram_quantile(0.99, sum by (le, operation) (rate(affluent_storage_object_request_duration_seconds_bucket[5m])))`, "{{operation}}")}},
				{title: "Object store errors", unit: "reqps", width: 12, queries: []query{q(`sum by (operation) (rate(affluent_storage_object_request_errors_total[5m]))`, "{{operation}}")}},
				{title: "Metadata DB transaction p99", unit: "s", width: 12, queries: []query{q(`histogram_quantile(0.99, sum by (le) (rate(affluent_storage_metadata_transaction_duration_seconds_bucket[5m])))`, "p99")}},
				{title: "Read cache hit ratio", unit: "percentunit", width: 12, queries: []query{q(`sum(rate(affluent_storage_cache_hits_total[5m])) / (sum(rate(affluent_storage_cache_hits_total[5m])) + sum(rate(affluent_storage_cache_misses_total[5m])))`, "hit ratio")}},
			}},
			{"Compaction and GC", []panel{
				{title: "Compaction passes", unit: "short", width: 8, queries: []query{q(`sum(rate(affluent_storage_compaction_passes_total[5m]))`, "passes/s")}},
				{title: "Compacted bytes", unit: "Bps", width: 8, queries: []query{q(`sum(rate(affluent_storage_compaction_written_bytes_total[5m]))`, "written")}},
				{title: "Objects deleted", unit: "short", width: 8, queries: []query{q(`sum(rate(affluent_storage_gc_deleted_objects_total[5m]))`, "deleted/s")}},
			}},
			{"Process", []panel{
				{title: "CPU", unit: "percentunit", width: 8, queries: []query{q(`rate(process_cpu_seconds_total[5m])`, "{{instance}}")}},
				{title: "Resident memory", unit: "bytes", width: 8, queries: []query{q(`process_resident_memory_bytes`, "{{instance}}")}},
				{title: "Goroutines", unit: "short", width: 8, queries: []query{q(`go_goroutines`, "{{instance}}")}},
			}},
		},
	},
}

func main() {
	out := flag.String("out", "deploy/grafana", "output directory")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "dashboards:", err)
		os.Exit(1)
	}
	for _, d := range dashboards {
		b, err := json.MarshalIndent(d.render(), "", "  ")
		if err != nil {
			fmt.Fprintln(os.Stderr, "dashboards:", err)
			os.Exit(1)
		}
		path := filepath.Join(*out, d.uid+".json")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "dashboards:", err)
			os.Exit(1)
		}
	}
}

type object = map[string]any

var datasource = object{"type": "prometheus", "uid": "${datasource}"}

// render builds the dashboard JSON Grafana imports (schema version 39).
func (d dashboard) render() object {
	var panels []any
	id, y := 1, 0
	for _, r := range d.rows {
		panels = append(panels, object{"id": id, "type": "row", "title": r.title, "collapsed": false,
			"gridPos": object{"h": 1, "w": 24, "x": 0, "y": y}, "panels": []any{}})
		id++
		y++
		x := 0
		for _, p := range r.panels {
			if x+p.width > 24 {
				x, y = 0, y+8
			}
			panels = append(panels, p.render(id, x, y))
			id++
			x += p.width
		}
		y += 8
	}
	vars := []any{object{"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"}}
	if d.clusterVariable {
		vars = append(vars, object{"name": "cluster", "label": "Cluster", "type": "query", "datasource": datasource,
			"query":   object{"query": "label_values(affluent_kafka_cluster_bytes_in_total, cluster)", "refId": "cluster"},
			"refresh": 2, "sort": 1})
	}
	return object{
		"uid": d.uid, "title": d.title, "description": d.description,
		"tags": []string{"affluent"}, "editable": true, "schemaVersion": 39, "version": 1,
		"time": object{"from": "now-1h", "to": "now"}, "refresh": "30s", "timezone": "",
		"templating": object{"list": vars}, "annotations": object{"list": []any{}},
		"panels": panels,
	}
}

func (p panel) render(id, x, y int) object {
	kind := p.kind
	if kind == "" {
		kind = "timeseries"
	}
	var targets []any
	for i, t := range p.queries {
		targets = append(targets, object{"datasource": datasource, "expr": t.expr, "legendFormat": t.legend,
			"refId": string(rune('A' + i))})
	}
	return object{
		"id": id, "type": kind, "title": p.title, "datasource": datasource,
		"gridPos":     object{"h": 8, "w": p.width, "x": x, "y": y},
		"fieldConfig": object{"defaults": object{"unit": p.unit}, "overrides": []any{}},
		"options":     object{"legend": object{"displayMode": "list", "placement": "bottom", "showLegend": true}},
		"targets":     targets,
	}
}
