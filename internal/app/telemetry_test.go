package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// otlpReceiver is a real OTLP/gRPC trace endpoint keeping what it is sent.
type otlpReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *otlpReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *otlpReceiver) trace(id []byte) []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range r.spans {
		if bytes.Equal(s.GetTraceId(), id) {
			out = append(out, s)
		}
	}
	return out
}

// TestTelemetry runs the platform with an OTLP collector, sends a REST
// call and Kafka traffic, then checks what operators rely on: one trace
// from the gateway's HTTP request through the control-plane RPC, and a
// /metrics scrape that promtool accepts, holding the series the
// dashboards and alert rules of deploy/ query, with values that match the
// traffic.
func TestTelemetry(t *testing.T) {
	receiver := &otlpReceiver{}
	collector := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(collector, receiver)
	colLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = collector.Serve(colLis) }()
	t.Cleanup(collector.Stop)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+colLis.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")

	p, cancel, done := startDev(t)
	t.Cleanup(func() {
		cancel()
		<-done
	})
	ctx := context.Background()
	creds := p.Credentials
	base := "http://" + p.HTTPAddr

	// A REST call carrying a trace context.
	traceID, _ := hex.DecodeString("5b8efff798038103d269b633813fc60c")
	req, _ := http.NewRequest("GET", base+"/v1/environments", nil)
	req.SetBasicAuth(creds.CloudAPIKey, creds.CloudAPISecret)
	req.Header.Set("traceparent", "00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v1/environments: %d", resp.StatusCode)
	}

	// Kafka traffic: produce, consume in a group, commit.
	const records, valueSize = 2000, 500
	topic := "telemetry"
	cl, err := kgo.NewClient(kgo.SeedBrokers(creds.BootstrapServers),
		kgo.SASL(plain.Auth{User: creds.KafkaAPIKey, Pass: creds.KafkaAPISecret}.AsMechanism()),
		kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(topic),
		kgo.ConsumeTopics(topic), kgo.ConsumerGroup("dashboards"), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createTopic(t, base, creds.CloudAPIKey, creds.CloudAPISecret, creds.EnvironmentID, creds.ClusterID, topic)
	// Random values: the byte counters count what crosses the wire,
	// compressed as the client sends it.
	for i := range records {
		value := make([]byte, valueSize)
		_, _ = rand.Read(value)
		cl.Produce(ctx, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: value}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := 0
	pollCtx, stopPoll := context.WithTimeout(ctx, 30*time.Second)
	for got < records && pollCtx.Err() == nil {
		fs := cl.PollFetches(pollCtx)
		fs.EachRecord(func(*kgo.Record) { got++ })
	}
	stopPoll()
	if got != records {
		t.Fatalf("consumed %d records, want %d", got, records)
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}

	// A client with a wrong secret fails to authenticate.
	bad, err := kgo.NewClient(kgo.SeedBrokers(creds.BootstrapServers),
		kgo.SASL(plain.Auth{User: creds.KafkaAPIKey, Pass: "not-the-secret"}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Ping(ctx); err == nil {
		t.Fatal("a wrong secret authenticated")
	}
	bad.Close()

	// The trace: the HTTP server span, and the RPC it made, in one trace.
	var spans []*tracepb.Span
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if spans = receiver.trace(traceID); len(spans) >= 3 {
			break
		}
	}
	names := map[string]*tracepb.Span{}
	for _, s := range spans {
		names[s.GetName()] = s
	}
	httpSpan, rpcSpan := names["GET"], names["affluent.v1.EnvironmentService/ListEnvironments"]
	if httpSpan == nil || rpcSpan == nil {
		t.Fatalf("trace holds spans %v, want the HTTP request (GET) and the RPC (affluent.v1.EnvironmentService/ListEnvironments)", slices.Collect(maps.Keys(names)))
	}
	if !descends(spans, rpcSpan, httpSpan) {
		t.Errorf("the RPC span does not descend from the HTTP span")
	}
	// Creating the topic: HTTP → RPC → the Kafka admin calls.
	topicTraceID, _ := hex.DecodeString(topicTrace)
	spans = receiver.trace(topicTraceID)
	names = map[string]*tracepb.Span{}
	for _, s := range spans {
		names[s.GetName()] = s
	}
	createSpan, adminSpan := names["affluent.v1.TopicService/CreateTopic"], names["kafka.admin"]
	if createSpan == nil || adminSpan == nil || !descends(spans, adminSpan, createSpan) || !descends(spans, createSpan, names["POST"]) {
		t.Errorf("topic creation trace holds %v, want POST → affluent.v1.TopicService/CreateTopic → kafka.admin", slices.Collect(maps.Keys(names)))
	}

	// The scrape, once the usage meter has read the cluster's storage
	// (each flush, every 5s).
	var scrape []byte
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		scrape = get(t, base+"/metrics")
		if bytes.Contains(scrape, []byte(`affluent_kafka_cluster_stored_bytes{cluster="`+creds.ClusterID+`"}`)) || time.Now().After(deadline) {
			break
		}
	}
	path := filepath.Join(t.TempDir(), "scrape.txt")
	if err := os.WriteFile(path, scrape, 0o600); err != nil {
		t.Fatal(err)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found (Debian package prometheus): run scripts/test-deps.sh")
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(scrape)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(scrape))
	if err != nil {
		t.Fatal(err)
	}
	value1 := func(name string, labels map[string]string) float64 {
		t.Helper()
		f, ok := families[name]
		if !ok {
			t.Errorf("/metrics lacks %s", name)
			return 0
		}
		var sum float64
		for _, m := range f.GetMetric() {
			match := true
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					match = false
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
		return sum
	}
	cluster := map[string]string{"cluster": creds.ClusterID}
	produced := float64(records * valueSize)
	for _, c := range []struct {
		name   string
		labels map[string]string
		ok     func(float64) bool
		want   string
	}{
		{"affluent_kafka_requests_total", map[string]string{"api": "Produce"}, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"affluent_kafka_request_duration_seconds", map[string]string{"api": "Fetch"}, func(v float64) bool { return v >= 1 }, ">= 1 observation"},
		{"affluent_kafka_cluster_bytes_in_total", cluster, func(v float64) bool { return v >= produced && v < 2*produced }, fmt.Sprintf("between %.0f and twice that", produced)},
		{"affluent_kafka_cluster_bytes_out_total", cluster, func(v float64) bool { return v >= produced }, fmt.Sprintf(">= %.0f", produced)},
		{"affluent_kafka_topic_bytes_in_total", map[string]string{"cluster": creds.ClusterID, "topic": topic}, func(v float64) bool { return v >= produced && v < 2*produced }, fmt.Sprintf("between %.0f and twice that", produced)},
		{"affluent_kafka_topic_bytes_out_total", map[string]string{"cluster": creds.ClusterID, "topic": topic}, func(v float64) bool { return v >= produced }, fmt.Sprintf(">= %.0f", produced)},
		{"affluent_kafka_cluster_partitions", cluster, func(v float64) bool { return v == 3 }, "3 (the topic's)"},
		{"affluent_kafka_cluster_stored_bytes", cluster, func(v float64) bool { return v >= produced }, fmt.Sprintf(">= %.0f", produced)},
		{"affluent_kafka_consumer_group_lag", map[string]string{"cluster": creds.ClusterID, "group": "dashboards", "topic": topic}, func(v float64) bool { return v == 0 }, "0 after the commit"},
		{"affluent_kafka_authentications_total", nil, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"affluent_kafka_authentication_failures_total", map[string]string{"mechanism": "PLAIN"}, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"affluent_kafka_cluster_throttle_seconds_total", cluster, func(v float64) bool { return v == 0 }, "0 (no quota)"},
		{"affluent_storage_object_request_duration_seconds", map[string]string{"operation": "put"}, func(v float64) bool { return v >= 1 }, ">= 1 WAL object written"},
		{"affluent_storage_metadata_transaction_duration_seconds", map[string]string{"outcome": "committed"}, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"grpc_server_handled_total", map[string]string{"grpc_method": "ListEnvironments", "grpc_code": "OK"}, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"affluent_controlplane_reconcile_queue_depth", nil, func(v float64) bool { return v == 0 }, "0 (every cluster at rest)"},
	} {
		if v := value1(c.name, c.labels); !c.ok(v) {
			t.Errorf("%s%v = %v, want %s", c.name, c.labels, v, c.want)
		}
	}

	// Every series the dashboards and alert rules query is in the scrape.
	exported, labels := map[string]bool{}, map[string]bool{}
	for name, f := range families {
		exported[name] = true
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		if f.GetType() == dto.MetricType_HISTOGRAM {
			exported[name+"_bucket"], exported[name+"_count"], exported[name+"_sum"] = true, true, true
		}
	}
	for _, q := range deployQueries(t) {
		for _, name := range metricName.FindAllString(q.expr, -1) {
			if !exported[name] && !labels[name] {
				t.Errorf("%s queries %s, which /metrics does not export", q.file, name)
			}
		}
	}
}

// metricName matches the series names the deploy/ queries use.
var metricName = regexp.MustCompile(`\b(?:affluent|go|process|grpc)_[a-z0-9_]+\b`)

type deployQuery struct{ file, expr string }

// deployQueries are the PromQL expressions of the Grafana dashboards and
// the alert rules of deploy/.
func deployQueries(t *testing.T) []deployQuery {
	t.Helper()
	var out []deployQuery
	dashboards, _ := filepath.Glob("../../deploy/grafana/*.json")
	if len(dashboards) == 0 {
		t.Fatal("no dashboards in deploy/grafana")
	}
	for _, path := range dashboards {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s is not valid JSON: %v", path, err)
		}
		for _, p := range d.Panels {
			for _, target := range p.Targets {
				out = append(out, deployQuery{filepath.Base(path), target.Expr})
			}
		}
	}
	rules, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.Contains(line, "(") || strings.Contains(line, "expr:") {
			out = append(out, deployQuery{"alerts.yaml", line})
		}
	}
	return out
}

// descends reports whether span has ancestor among its parents in spans.
func descends(spans []*tracepb.Span, span, ancestor *tracepb.Span) bool {
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[string(s.GetSpanId())] = s
	}
	for s := span; s != nil; s = byID[string(s.GetParentSpanId())] {
		if bytes.Equal(s.GetParentSpanId(), ancestor.GetSpanId()) {
			return true
		}
	}
	return false
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}

// topicTrace is the trace id of createTopic's request.
const topicTrace = "0af7651916cd43dd8448eb211c80319c"

// createTopic creates a topic of 3 partitions through the REST API.
func createTopic(t *testing.T, base, key, secret, env, cluster, name string) {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"partitions_count":3}`, name)
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/v1/environments/%s/clusters/%s/topics", base, env, cluster), strings.NewReader(body))
	req.SetBasicAuth(key, secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+topicTrace+"-eee19b7ec3c1b174-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("create topic: %d %s", resp.StatusCode, b)
	}
}
