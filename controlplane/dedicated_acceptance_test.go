package controlplane_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/affluent-io/affluent/internal/config"
)

// TestDedicatedClusterLocalProcesses creates a DEDICATED cluster through the
// REST API of affluent dev, whose local provisioner starts its brokers as
// processes of the affluent binary; clients produce and consume on the
// cluster's own bootstrap servers, the cluster grows to two brokers and
// shrinks back to one under a running producer without losing an
// acknowledged record, and deleting it stops its processes and removes its
// data.
func TestDedicatedClusterLocalProcesses(t *testing.T) {
	bin := affluentBinary(t)
	var dataDir string
	d := startDev(t, func(c *config.Config) {
		c.Dedicated.Provisioner = config.DedicatedLocal
		c.Dedicated.BrokerBinary = bin
		dataDir = c.Storage.DataDir
	})
	env := d.Credentials.EnvironmentID
	clusters := "/v1/environments/" + env + "/clusters"
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(dataDir, "dedicated", "*", "broker-*", "broker.log"))
		for _, l := range logs {
			raw, _ := os.ReadFile(l)
			lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
			t.Logf("%s (last lines):\n%s", l, strings.Join(lines[max(0, len(lines)-15):], "\n"))
		}
	})

	created := d.rest.must(200, "POST", clusters, map[string]any{
		"display_name": "dedicated", "spec": map[string]any{"type": "DEDICATED", "brokers": 1}})
	id := created.str("id")
	if created.str("status.phase") != "PROVISIONING" {
		t.Fatalf("created: %s, want PROVISIONING", created.raw)
	}
	waitOp(t, d, created.str("status.operation_id"))
	got := d.rest.must(200, "GET", clusters+"/"+id, nil)
	bootstrap := got.str("status.bootstrap_servers")
	if got.str("status.phase") != "RUNNING" || bootstrap == "" || bootstrap == d.KafkaAddr || brokersOf(got) != 1 {
		t.Fatalf("after create: %s, want RUNNING with 1 broker of its own", got.raw)
	}
	t.Logf("cluster %s RUNNING at %s", id, bootstrap)

	p := d.rest.newKafkaPrincipal("ded-app", id)
	d.rest.bind(p, "CloudClusterAdmin", fmt.Sprintf("crn://affluent/organization=%s/environment=%s/cloud-cluster=%s",
		d.Credentials.OrganizationID, env, id))
	client := func(extra ...kgo.Opt) *kgo.Client {
		opts := append([]kgo.Opt{kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
			kgo.SASL(plain.Auth{User: p.key, Pass: p.secret}.AsMechanism()),
			kgo.RetryTimeout(30 * time.Second), kgo.FetchMaxWait(500 * time.Millisecond)}, extra...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	ctx := testCtx(t)
	adm := kadm.NewClient(client())
	createTopic(t, adm, "orders", 3)
	// The shared fleet does not serve the dedicated cluster.
	shared, err := kgo.NewClient(kgo.SeedBrokers(d.KafkaAddr), kgo.SASL(plain.Auth{User: p.key, Pass: p.secret}.AsMechanism()),
		kgo.RetryTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(shared).ListTopics(ctx); err == nil {
		t.Error("the shared broker let a key of a dedicated cluster in")
	}
	shared.Close()
	// Nor the dedicated brokers the dev cluster.
	devKey, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.SASL(plain.Auth{User: d.Credentials.KafkaAPIKey,
		Pass: d.Credentials.KafkaAPISecret}.AsMechanism()), kgo.RetryTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(devKey).ListTopics(ctx); err == nil {
		t.Error("a dedicated broker let a key of another cluster in")
	}
	devKey.Close()

	// A producer runs through both resizes, one acknowledged record at a
	// time.
	producer := client(kgo.DefaultProduceTopic("orders"))
	var (
		mu     sync.Mutex
		acked  []string
		failed []error
	)
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			v := strconv.Itoa(n)
			err := producer.ProduceSync(ctx, &kgo.Record{Key: []byte(v), Value: []byte(v)}).FirstErr()
			mu.Lock()
			if err == nil {
				acked = append(acked, v)
			} else {
				failed = append(failed, err)
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	ackedNow := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitAcks := func(more int) {
		t.Helper()
		want := ackedNow() + more
		deadline := time.Now().Add(20 * time.Second)
		for ackedNow() < want {
			if time.Now().After(deadline) {
				t.Fatalf("producer stalled at %d acknowledged records", ackedNow())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAcks(20)

	for _, brokers := range []int{2, 1} {
		before := ackedNow()
		cur := d.rest.must(200, "GET", clusters+"/"+id, nil)
		resized := d.rest.must(200, "PATCH", clusters+"/"+id+"?update_mask=spec.brokers",
			map[string]any{"spec": map[string]any{"brokers": brokers}, "etag": cur.str("etag")})
		waitOp(t, d, resized.str("status.operation_id"))
		after := d.rest.must(200, "GET", clusters+"/"+id, nil)
		if brokersOf(after) != brokers || len(strings.Split(after.str("status.bootstrap_servers"), ",")) != brokers {
			t.Fatalf("after resizing to %d: %s", brokers, after.raw)
		}
		waitMetadataBrokers(t, client, brokers)
		waitAcks(20)
		t.Logf("resized to %d brokers (%s); producer acknowledged %d records meanwhile", brokers,
			after.str("status.bootstrap_servers"), ackedNow()-before)
	}
	close(stop)
	<-produced
	mu.Lock()
	want := append([]string(nil), acked...)
	t.Logf("%d records acknowledged, %d produce attempts failed (retried by the next record)", len(want), len(failed))
	mu.Unlock()

	// Every acknowledged record is there.
	consumer := client(kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for missing := len(want); missing > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d distinct records; %d acknowledged ones missing", len(seen), missing)
		}
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fetches := consumer.PollFetches(fctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
		missing = 0
		for _, v := range want {
			if !seen[v] {
				missing++
			}
		}
	}
	t.Logf("consumed all %d acknowledged records", len(want))

	// Deleting the cluster stops its brokers and removes its data.
	dir := filepath.Join(dataDir, "dedicated", id)
	pids := brokerPIDs(t, dir)
	if len(pids) != 1 {
		t.Fatalf("brokers.json lists pids %v, want one broker", pids)
	}
	cur := d.rest.must(200, "GET", clusters+"/"+id, nil)
	d.rest.must(200, "DELETE", clusters+"/"+id+"?etag="+cur.str("etag"), nil)
	deadline = time.Now().Add(30 * time.Second)
	for d.rest.status("GET", clusters+"/"+id) != 404 {
		if time.Now().After(deadline) {
			t.Fatal("cluster not gone 30s after DELETE")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("broker process %d still there after the cluster was deleted (kill 0: %v)", pid, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data of the deleted cluster still at %s (stat: %v)", dir, err)
	}
}

var affluentBuild struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// affluentBinary builds the affluent binary once per test run: the local
// provisioner's brokers run it.
func affluentBinary(t *testing.T) string {
	t.Helper()
	b := &affluentBuild
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "affluent-bin-"); b.err != nil {
			return
		}
		b.out, b.err = exec.Command("go", "build", "-o", filepath.Join(b.dir, "affluent"), "github.com/affluent-io/affluent/cmd/affluent").CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("build affluent: %v\n%s", b.err, b.out)
	}
	return filepath.Join(b.dir, "affluent")
}

// TestDedicatedClusterSurvivesControlPlaneRestart: stopping affluent dev
// stops its dedicated brokers; starting it again on the same data dir
// starts them again at the same addresses, with their data.
func TestDedicatedClusterSurvivesControlPlaneRestart(t *testing.T) {
	bin, dir := affluentBinary(t), t.TempDir()
	same := func(c *config.Config) { c.Storage.DataDir, c.Dedicated.BrokerBinary = dir, bin }
	d := startDev(t, same)
	clusters := "/v1/environments/" + d.Credentials.EnvironmentID + "/clusters"
	created := d.rest.must(200, "POST", clusters, map[string]any{
		"display_name": "survivor", "spec": map[string]any{"type": "DEDICATED", "brokers": 2}})
	id := created.str("id")
	waitOp(t, d, created.str("status.operation_id"))
	bootstrap := d.rest.must(200, "GET", clusters+"/"+id, nil).str("status.bootstrap_servers")
	p := d.rest.newKafkaPrincipal("survivor-app", id)
	d.rest.bind(p, "CloudClusterAdmin", fmt.Sprintf("crn://affluent/organization=%s/environment=%s/cloud-cluster=%s",
		d.Credentials.OrganizationID, d.Credentials.EnvironmentID, id))
	client := func(extra ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
			kgo.SASL(plain.Auth{User: p.key, Pass: p.secret}.AsMechanism()), kgo.RetryTimeout(30 * time.Second)}, extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	ctx := testCtx(t)
	createTopic(t, kadm.NewClient(client()), "kept", 2)
	producer := client(kgo.DefaultProduceTopic("kept"))
	for i := range 10 {
		if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	producer.Close()
	pids := brokerPIDs(t, filepath.Join(dir, "dedicated", id))

	d.stop()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("broker process %d still there after affluent dev stopped (kill 0: %v)", pid, err)
		}
	}

	d = startDev(t, same)
	got := d.rest.must(200, "GET", clusters+"/"+id, nil)
	if got.str("status.phase") != "RUNNING" || got.str("status.bootstrap_servers") != bootstrap {
		t.Fatalf("after the restart: %s, want RUNNING at %s", got.raw, bootstrap)
	}
	consumer := client(kgo.ConsumeTopics("kept"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := 0
	deadline := time.Now().Add(30 * time.Second)
	for seen < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of 10 records after the restart", seen)
		}
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		seen += consumer.PollFetches(fctx).NumRecords()
		cancel()
	}
	if now := brokerPIDs(t, filepath.Join(dir, "dedicated", id)); len(now) != 2 || slices.Equal(now, pids) {
		t.Errorf("brokers after the restart: pids %v (before %v), want 2 new processes", now, pids)
	}
}

// createTopic creates a topic, waiting (up to 10s) for the role binding
// just made to reach the brokers: they learn it from the control plane's
// watch, a moment after the API answered.
func createTopic(t *testing.T, adm *kadm.Client, name string, partitions int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := adm.CreateTopic(ctx, partitions, -1, nil, name)
		cancel()
		if err == nil {
			return
		}
		if !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(resp.Err, kerr.TopicAuthorizationFailed) || time.Now().After(deadline) {
			t.Fatalf("create topic %s: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func brokersOf(a restAnswer) int {
	st, _ := a.body["status"].(map[string]any)
	n, _ := st["brokers"].(float64)
	return int(n)
}

// waitOp waits up to a minute for an operation to end without error.
func waitOp(t *testing.T, d *devProcess, id string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		op := d.rest.must(200, "GET", "/v1/operations/"+id, nil)
		if done, _ := op.body["done"].(bool); done {
			if op.body["error"] != nil {
				t.Fatalf("operation %s failed: %s", id, op.raw)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s not done after a minute: %s", id, op.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitMetadataBrokers waits until a Kafka Metadata request of a new
// client lists n brokers.
func waitMetadataBrokers(t *testing.T, newClient func(...kgo.Opt) *kgo.Client, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		cl := newClient()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{}
		resp, err := req.RequestWith(ctx, cl)
		cancel()
		cl.Close()
		var ids []int32
		if err == nil {
			for _, b := range resp.Brokers {
				ids = append(ids, b.NodeID)
			}
			if len(ids) == n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("metadata lists brokers %v (err %v), want %d", ids, err, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// brokerPIDs reads the pids the local provisioner recorded.
func brokerPIDs(t *testing.T, dir string) []int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "brokers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Brokers []struct {
			PID int `json:"pid"`
		} `json:"brokers"`
	}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&st); err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, b := range st.Brokers {
		if b.PID > 0 {
			out = append(out, b.PID)
		}
	}
	return out
}

// status sends a request without a body and returns its HTTP status.
func (a rest) status(method, path string) int {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	req.SetBasicAuth(a.key, a.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
