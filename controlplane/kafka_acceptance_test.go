package controlplane_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestControlPlaneAcceptanceWithKcat is the control plane's acceptance walk
// on `affluent dev` (app.Run): over plain HTTP, an environment, a cluster
// (waiting on its operation), topics, a service account, its Kafka API key
// and a DeveloperWrite role binding on one topic; kcat then produces with
// that key to that topic and is refused (TOPIC_AUTHORIZATION_FAILED) on
// another and when consuming; then everything is deleted in reverse, the
// lists following each step and the broker each deletion.
func TestControlPlaneAcceptanceWithKcat(t *testing.T) {
	d := startDev(t)
	a := d.rest

	envID := a.must(200, "POST", "/v1/environments", map[string]any{"display_name": "acceptance"}).str("id")
	if got := a.must(200, "GET", "/v1/environments", nil).ids("environments", "id"); !slices.Contains(got, envID) {
		t.Fatalf("environments %v lack %s", got, envID)
	}
	c := a.must(200, "POST", "/v1/environments/"+envID+"/clusters", map[string]any{
		"display_name": "main", "spec": map[string]any{"type": "SERVERLESS", "region": "local", "cloud": "LOCAL"}})
	clusterID := c.str("id")
	a.waitOperation(c.str("status.operation_id"))
	c = a.must(200, "GET", "/v1/environments/"+envID+"/clusters/"+clusterID, nil)
	if c.str("status.phase") != "RUNNING" || c.str("status.bootstrap_servers") != d.KafkaAddr {
		t.Fatalf("cluster: %s", c.raw)
	}
	if got := a.must(200, "GET", "/v1/environments/"+envID+"/clusters", nil).ids("clusters", "id"); !slices.Equal(got, []string{clusterID}) {
		t.Fatalf("clusters %v, want [%s]", got, clusterID)
	}
	topics := "/v1/environments/" + envID + "/clusters/" + clusterID + "/topics"
	for _, name := range []string{"orders", "payments"} {
		a.must(200, "POST", topics, map[string]any{"name": name, "partitions_count": 1})
	}
	if got := a.must(200, "GET", topics, nil).ids("topics", "name"); !slices.Equal(got, []string{"orders", "payments"}) {
		t.Fatalf("topics %v", got)
	}
	app := a.newKafkaPrincipal("orders-app", clusterID)
	if got := a.must(200, "GET", "/v1/service-accounts", nil).ids("service_accounts", "id"); !slices.Contains(got, app.sa) {
		t.Fatalf("service accounts %v lack %s", got, app.sa)
	}
	if got := a.must(200, "GET", "/v1/api-keys?owner="+app.sa, nil).ids("api_keys", "id"); !slices.Equal(got, []string{app.key}) {
		t.Fatalf("api keys of %s: %v", app.sa, got)
	}
	rb := a.bind(app, "DeveloperWrite", kafkaCRN(d, envID, clusterID)+"/topic=orders")
	if got := a.must(200, "GET", "/v1/role-bindings?principal="+url.QueryEscape(app.name()), nil).ids("role_bindings", "id"); !slices.Equal(got, []string{rb}) {
		t.Fatalf("role bindings of %s: %v", app.sa, got)
	}

	// kcat produces with the key where the binding allows, and nowhere else.
	if _, stderr, ok := d.kcat(t, app, "one\ntwo\nthree\n", "-P", "-t", "orders"); !ok {
		t.Fatalf("kcat producing to orders with DeveloperWrite: %s", stderr)
	}
	ends, err := kadm.NewClient(d.kafkaClient(t, app)).ListEndOffsets(testCtx(t), "orders")
	if o, _ := ends.Lookup("orders", 0); err != nil || o.Offset != 3 {
		t.Fatalf("orders ends at %+v (%v), want 3 records", o, err)
	}
	_, stderr, ok := d.kcat(t, app, "x\n", "-P", "-t", "payments")
	if ok || !strings.Contains(strings.ToLower(stderr), "topic authorization failed") {
		t.Fatalf("kcat producing to payments without a binding: ok=%v, stderr %q; want Topic authorization failed", ok, stderr)
	}
	_, stderr, _ = d.kcat(t, app, "", "-C", "-t", "orders", "-o", "beginning", "-e")
	if !strings.Contains(strings.ToLower(stderr), "topic authorization failed") {
		t.Fatalf("kcat consuming orders with DeveloperWrite only: stderr %q; want Topic authorization failed", stderr)
	}

	// Delete in reverse order; each step shows in the lists and the broker.
	a.must(200, "DELETE", "/v1/role-bindings/"+rb, nil)
	if got := a.must(200, "GET", "/v1/role-bindings?principal="+url.QueryEscape(app.name()), nil).ids("role_bindings", "id"); len(got) != 0 {
		t.Fatalf("role bindings after delete: %v", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, stderr, ok := d.kcat(t, app, "late\n", "-P", "-t", "orders")
		if !ok && strings.Contains(strings.ToLower(stderr), "topic authorization failed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kcat still produces 5s after the role binding was deleted: ok=%v %s", ok, stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	a.must(200, "DELETE", "/v1/api-keys/"+app.key, nil)
	if got := a.must(200, "GET", "/v1/api-keys?owner="+app.sa, nil).ids("api_keys", "id"); len(got) != 0 {
		t.Fatalf("api keys after delete: %v", got)
	}
	if _, stderr, ok := d.kcat(t, app, "", "-L"); ok || !strings.Contains(strings.ToLower(stderr), "authentication") {
		t.Fatalf("kcat with a deleted key: ok=%v %q, want an authentication failure", ok, stderr)
	}
	a.must(200, "DELETE", "/v1/service-accounts/"+app.sa, nil)
	if got := a.must(200, "GET", "/v1/service-accounts", nil).ids("service_accounts", "id"); slices.Contains(got, app.sa) {
		t.Fatalf("deleted service account still listed")
	}
	for _, name := range []string{"payments", "orders"} {
		a.must(200, "DELETE", topics+"/"+name, nil)
	}
	if got := a.must(200, "GET", topics, nil).ids("topics", "name"); len(got) != 0 {
		t.Fatalf("topics after delete: %v", got)
	}
	del := a.must(200, "DELETE", "/v1/environments/"+envID+"/clusters/"+clusterID, nil)
	a.waitOperation(del.str("status.operation_id"))
	if got := a.must(200, "GET", "/v1/environments/"+envID+"/clusters", nil).ids("clusters", "id"); len(got) != 0 {
		t.Fatalf("clusters after delete: %v", got)
	}
	a.must(200, "DELETE", "/v1/environments/"+envID, nil)
	if got := a.must(200, "GET", "/v1/environments", nil).ids("environments", "id"); slices.Contains(got, envID) {
		t.Fatalf("deleted environment still listed")
	}
}

// TestRevokedRoleBindingStopsConnectedClient: a producer connected with a
// role binding is refused within 5 s of the binding's deletion, on the
// same connection.
func TestRevokedRoleBindingStopsConnectedClient(t *testing.T) {
	d := startDev(t)
	a, c := d.rest, d.Credentials
	topics := "/v1/environments/" + c.EnvironmentID + "/clusters/" + c.ClusterID + "/topics"
	a.must(200, "POST", topics, map[string]any{"name": "revocable", "partitions_count": 1})
	p := a.newKafkaPrincipal("revocable-app", c.ClusterID)
	rb := a.bind(p, "DeveloperWrite", kafkaCRN(d, c.EnvironmentID, c.ClusterID)+"/topic=revocable")
	cl := d.kafkaClient(t, p, kgo.DefaultProduceTopic("revocable"))
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce with the binding: %v", err)
	}
	a.must(200, "DELETE", "/v1/role-bindings/"+rb, nil)
	revoked := time.Now()
	for {
		err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("after")}).FirstErr()
		if errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Logf("refused %v after the revocation", time.Since(revoked).Round(time.Millisecond))
			break
		}
		if err != nil {
			t.Fatalf("produce after revocation: %v, want TOPIC_AUTHORIZATION_FAILED", err)
		}
		if time.Since(revoked) > 5*time.Second {
			t.Fatal("still producing 5s after the role binding was deleted")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
