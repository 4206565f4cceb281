package gateway_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/affluent-io/affluent/controlplane/cptest"
	"github.com/affluent-io/affluent/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.RunWithPostgres(m)) }

// api is a plain net/http client of the REST API.
type api struct {
	t      *testing.T
	base   string
	key    string
	secret string
	// requestID, when set, is sent as X-Request-Id.
	requestID string
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) str(path string) string {
	v := r.get(path)
	s, _ := v.(string)
	return s
}

// get walks a dotted path through the JSON body.
func (r response) get(path string) any {
	var cur any = r.body
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func (r response) list(field string) []map[string]any {
	items, _ := r.body[field].([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

func (a api) do(method, path string, body any) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.key != "" {
		req.SetBasicAuth(a.key, a.secret)
	}
	if a.requestID != "" {
		req.Header.Set("X-Request-Id", a.requestID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			a.t.Fatalf("%s %s: answer is not a JSON object (status %d): %s", method, path, resp.StatusCode, raw)
		}
	}
	return out
}

// must fails the test unless the answer has status want.
func (a api) must(want int, method, path string, body any) response {
	a.t.Helper()
	r := a.do(method, path, body)
	if r.status != want {
		a.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.raw)
	}
	return r
}

// fails checks an error answer: status, code, and a message mentioning each of words.
func (a api) fails(status int, code, method, path string, body any, words ...string) response {
	a.t.Helper()
	r := a.do(method, path, body)
	if r.status != status || r.str("code") != code {
		a.t.Fatalf("%s %s: got %d %s, want %d %s; body %s", method, path, r.status, r.str("code"), status, code, r.raw)
	}
	for _, w := range words {
		if !strings.Contains(r.str("message"), w) {
			a.t.Fatalf("%s %s: message %q does not mention %q", method, path, r.str("message"), w)
		}
	}
	return r
}

func ids(items []map[string]any, field string) []string {
	var out []string
	for _, it := range items {
		s, _ := it[field].(string)
		out = append(out, s)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func forEachEngine(t *testing.T, fn func(t *testing.T, engine string)) {
	for _, engine := range cptest.Engines {
		t.Run(engine, func(t *testing.T) { fn(t, engine) })
	}
}

func adminAPI(t *testing.T, env *cptest.Env) api {
	return api{t: t, base: env.BaseURL, key: env.Boot.CloudAPIKey, secret: env.Boot.CloudAPISecret}
}

// TestRESTLifecycle walks a tenant's path through the REST API: environment,
// cluster (waiting on its operation), topic, service account, Kafka API key,
// role binding, then everything deleted in reverse; lists follow each step.
func TestRESTLifecycle(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		env := cptest.Start(t, engine, cptest.Options{})
		a := adminAPI(t, env)

		e := a.must(200, "POST", "/v1/environments", map[string]any{"display_name": "payments", "description": "team payments"})
		envID := e.str("id")
		if !strings.HasPrefix(envID, "env-") || e.str("etag") == "" || e.str("create_time") == "" || e.str("update_time") == "" {
			t.Fatalf("environment lacks id, etag or times: %s", e.raw)
		}
		list := a.must(200, "GET", "/v1/environments", nil)
		if got := ids(list.list("environments"), "id"); !contains(got, envID) || !contains(got, env.Boot.EnvironmentID) {
			t.Fatalf("environments %v lack %s or the bootstrap one", got, envID)
		}
		if _, ok := list.body["next_page_token"]; !ok {
			t.Fatalf("list without next_page_token: %s", list.raw)
		}

		start := time.Now()
		c := a.must(200, "POST", "/v1/environments/"+envID+"/clusters", map[string]any{
			"display_name": "main", "spec": map[string]any{"type": "SERVERLESS", "region": "local", "cloud": "LOCAL"}})
		clusterID, opID := c.str("id"), c.str("status.operation_id")
		if !strings.HasPrefix(clusterID, "lkc-") || c.str("status.phase") != "PROVISIONING" || !strings.HasPrefix(opID, "op-") {
			t.Fatalf("cluster create answer: %s", c.raw)
		}
		for {
			op := a.must(200, "GET", "/v1/operations/"+opID, nil)
			if op.get("done") == true {
				if op.get("error") != nil {
					t.Fatalf("operation failed: %s", op.raw)
				}
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("operation not done after 5s: %s", op.raw)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("serverless cluster took %v to be RUNNING, want well under a second", took)
		}
		c = a.must(200, "GET", "/v1/environments/"+envID+"/clusters/"+clusterID, nil)
		if c.str("status.phase") != "RUNNING" || c.str("status.bootstrap_servers") != cptest.SharedBootstrap || c.str("status.rest_endpoint") == "" {
			t.Fatalf("running cluster: %s", c.raw)
		}
		if got := ids(a.must(200, "GET", "/v1/environments/"+envID+"/clusters", nil).list("clusters"), "id"); len(got) != 1 || got[0] != clusterID {
			t.Fatalf("clusters = %v, want [%s]", got, clusterID)
		}

		topics := "/v1/environments/" + envID + "/clusters/" + clusterID + "/topics"
		tp := a.must(200, "POST", topics, map[string]any{"name": "orders", "partitions_count": 3, "configs": map[string]string{"retention.ms": "3600000"}})
		if tp.str("name") != "orders" || tp.get("partitions_count") != float64(3) {
			t.Fatalf("topic: %s", tp.raw)
		}
		if cfg, _ := tp.body["configs"].(map[string]any); cfg["retention.ms"] != "3600000" {
			t.Fatalf("topic configs: %s", tp.raw)
		}
		if got := ids(a.must(200, "GET", topics, nil).list("topics"), "name"); len(got) != 1 || got[0] != "orders" {
			t.Fatalf("topics = %v", got)
		}
		tp = a.must(200, "PATCH", topics+"/orders", map[string]any{"partitions_count": 5, "configs": map[string]string{"cleanup.policy": "compact"}})
		if tp.get("partitions_count") != float64(5) {
			t.Fatalf("patched topic: %s", tp.raw)
		}
		if cfg, _ := tp.body["configs"].(map[string]any); cfg["cleanup.policy"] != "compact" || cfg["retention.ms"] != "3600000" {
			t.Fatalf("patched configs: %s", tp.raw)
		}

		sa := a.must(200, "POST", "/v1/service-accounts", map[string]any{"display_name": "orders-app"})
		saID := sa.str("id")
		if !strings.HasPrefix(saID, "sa-") || sa.str("principal") != "User:"+saID {
			t.Fatalf("service account: %s", sa.raw)
		}
		if got := ids(a.must(200, "GET", "/v1/service-accounts", nil).list("service_accounts"), "id"); !contains(got, saID) {
			t.Fatalf("service accounts %v lack %s", got, saID)
		}

		k := a.must(200, "POST", "/v1/api-keys", map[string]any{"owner": saID, "resource": clusterID, "display_name": "orders producer"})
		keyID, secret := k.str("id"), k.str("secret")
		if len(keyID) != 16 || strings.ToUpper(keyID) != keyID || len(secret) != 64 || k.str("owner") != saID || k.str("resource") != clusterID {
			t.Fatalf("api key: %s", k.raw)
		}
		got := a.must(200, "GET", "/v1/api-keys/"+keyID, nil)
		if _, has := got.body["secret"]; has {
			t.Fatalf("GET api key shows a secret: %s", got.raw)
		}
		for _, it := range a.must(200, "GET", "/v1/api-keys?owner="+saID, nil).list("api_keys") {
			if _, has := it["secret"]; has {
				t.Fatalf("listed api key shows a secret")
			}
		}
		principal, cl, err := env.CP.VerifyKafkaKey(context.Background(), keyID, secret)
		if err != nil || principal != "User:"+saID || cl != clusterID {
			t.Fatalf("VerifyKafkaKey = %q, %q, %v", principal, cl, err)
		}
		if _, _, err := env.CP.VerifyKafkaKey(context.Background(), keyID, strings.Repeat("x", 64)); err == nil {
			t.Fatal("VerifyKafkaKey accepted a wrong secret")
		}

		topicCRN := fmt.Sprintf("crn://affluent/organization=%s/environment=%s/cloud-cluster=%s/kafka=%s/topic=orders", env.Boot.OrganizationID, envID, clusterID, clusterID)
		rb := a.must(200, "POST", "/v1/role-bindings", map[string]any{"principal": "User:" + saID, "role_name": "DeveloperWrite", "crn_pattern": topicCRN})
		rbID := rb.str("id")
		if !strings.HasPrefix(rbID, "rb-") || rb.str("crn_pattern") != topicCRN {
			t.Fatalf("role binding: %s", rb.raw)
		}
		if got := ids(a.must(200, "GET", "/v1/role-bindings?principal="+url.QueryEscape("User:"+saID), nil).list("role_bindings"), "id"); len(got) != 1 || got[0] != rbID {
			t.Fatalf("role bindings of %s = %v", saID, got)
		}

		// The service account, with a cloud key of its own, may see its
		// topic but not manage the organization.
		ck := a.must(200, "POST", "/v1/api-keys", map[string]any{"owner": saID, "resource": "cloud"})
		dev := api{t: t, base: env.BaseURL, key: ck.str("id"), secret: ck.str("secret"), requestID: "dev-req-1"}
		dev.must(200, "GET", topics+"/orders", nil)
		dev.fails(403, "PERMISSION_DENIED", "POST", "/v1/environments", map[string]any{"display_name": "rogue"}, "environment.create")
		dev.fails(403, "PERMISSION_DENIED", "DELETE", topics+"/orders", nil)
		if got := ids(dev.must(200, "GET", topics, nil).list("topics"), "name"); len(got) != 1 {
			t.Fatalf("developer sees topics %v, want [orders]", got)
		}
		a.must(200, "DELETE", "/v1/api-keys/"+ck.str("id"), nil)

		acls := "/v1/environments/" + envID + "/clusters/" + clusterID + "/acls"
		acl := a.must(200, "POST", acls, map[string]any{"resource_type": "TOPIC", "resource_name": "orders", "principal": "User:" + saID, "operation": "WRITE", "permission": "ALLOW"})
		if got := ids(a.must(200, "GET", acls+"?principal="+url.QueryEscape("User:"+saID), nil).list("acls"), "id"); len(got) != 1 || got[0] != acl.str("id") {
			t.Fatalf("acls = %v", got)
		}
		a.must(200, "GET", acls+"/"+acl.str("id"), nil)
		quotas := "/v1/environments/" + envID + "/clusters/" + clusterID + "/client-quotas"
		q := a.must(200, "POST", quotas, map[string]any{"display_name": "orders", "principals": []string{"User:" + saID}, "ingress_byte_rate": 1048576, "egress_byte_rate": 2097152})
		if q.get("ingress_byte_rate") != "1048576" && q.get("ingress_byte_rate") != float64(1048576) {
			t.Fatalf("quota: %s", q.raw)
		}
		if got := ids(a.must(200, "GET", quotas, nil).list("client_quotas"), "id"); len(got) != 1 {
			t.Fatalf("quotas = %v", got)
		}

		// Delete in reverse.
		a.must(200, "DELETE", quotas+"/"+q.str("id"), nil)
		a.must(200, "DELETE", acls+"/"+acl.str("id"), nil)
		if len(a.must(200, "GET", acls, nil).list("acls")) != 0 {
			t.Fatal("acl still listed")
		}
		a.must(200, "DELETE", "/v1/role-bindings/"+rbID, nil)
		a.fails(404, "NOT_FOUND", "GET", "/v1/role-bindings/"+rbID, nil)
		a.must(200, "DELETE", "/v1/api-keys/"+keyID, nil)
		if _, _, err := env.CP.VerifyKafkaKey(context.Background(), keyID, secret); err == nil {
			t.Fatal("deleted Kafka API key still verifies")
		}
		a.must(200, "DELETE", "/v1/service-accounts/"+saID, nil)
		if got := ids(a.must(200, "GET", "/v1/service-accounts", nil).list("service_accounts"), "id"); contains(got, saID) {
			t.Fatal("deleted service account still listed")
		}
		a.must(200, "DELETE", topics+"/orders", nil)
		a.fails(404, "NOT_FOUND", "GET", topics+"/orders", nil)
		a.fails(409, "FAILED_PRECONDITION", "DELETE", "/v1/environments/"+envID, nil, "cluster")
		d := a.must(200, "DELETE", "/v1/environments/"+envID+"/clusters/"+clusterID, nil)
		if d.str("status.phase") != "DELETING" {
			t.Fatalf("deleting cluster: %s", d.raw)
		}
		waitOp(t, a, d.str("status.operation_id"))
		a.fails(404, "NOT_FOUND", "GET", "/v1/environments/"+envID+"/clusters/"+clusterID, nil)
		a.must(200, "DELETE", "/v1/environments/"+envID, nil)
		if got := ids(a.must(200, "GET", "/v1/environments", nil).list("environments"), "id"); contains(got, envID) {
			t.Fatal("deleted environment still listed")
		}

		// The audit log saw the mutations and the refusals, with request ids.
		events := a.must(200, "GET", "/v1/audit-events?page_size=200", nil).list("audit_events")
		var sawCreate, sawDenied bool
		for _, ev := range events {
			if ev["action"] == "environment.create" && ev["outcome"] == "OK" && ev["principal"] == "User:"+env.Boot.ServiceAccountID {
				sawCreate = true
			}
			if ev["outcome"] == "PERMISSION_DENIED" && ev["principal"] == "User:"+saID && ev["request_id"] == "dev-req-1" && ev["source_address"] != "" {
				sawDenied = true
			}
		}
		if !sawCreate || !sawDenied {
			t.Fatalf("audit log lacks the environment creation (%v) or the denial (%v): %v", sawCreate, sawDenied, events)
		}
		dev.fails(401, "UNAUTHENTICATED", "GET", "/v1/audit-events", nil)
	})
}

func waitOp(t *testing.T, a api, opID string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		op := a.must(200, "GET", "/v1/operations/"+opID, nil)
		if op.get("done") == true {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s not done: %s", opID, op.raw)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRESTBadInput sends what users get wrong and checks the documented
// status and message, and that nothing was half-created.
func TestRESTBadInput(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		env := cptest.Start(t, engine, cptest.Options{})
		a := adminAPI(t, env)
		count := func() int { return len(a.must(200, "GET", "/v1/environments", nil).list("environments")) }
		before := count()

		a.fails(400, "INVALID_ARGUMENT", "POST", "/v1/environments", map[string]any{}, "display_name", "required")
		a.fails(400, "INVALID_ARGUMENT", "POST", "/v1/environments", map[string]any{"display_name": strings.Repeat("x", 65)}, "display_name")
		a.fails(400, "INVALID_ARGUMENT", "POST", "/v1/environments", map[string]any{"display_name": " padded "}, "display_name")
		a.fails(400, "MALFORMED_REQUEST", "POST", "/v1/environments", `{"display_name": `)
		a.fails(400, "MALFORMED_REQUEST", "POST", "/v1/environments", `{"display_name": "x", "colour": "blue"}`, "colour")
		a.fails(400, "MALFORMED_REQUEST", "POST", "/v1/environments", `["not", "an", "object"]`)
		a.fails(400, "MALFORMED_REQUEST", "GET", "/v1/environments?page_size=many", nil)
		a.fails(400, "INVALID_ARGUMENT", "GET", "/v1/environments?page_size=-1", nil, "page_size")
		a.fails(400, "INVALID_ARGUMENT", "GET", "/v1/environments?page_token=zzz", nil, "page_token")
		big := `{"display_name": "big", "description": "` + strings.Repeat("x", 2<<20) + `"}`
		a.fails(413, "REQUEST_TOO_LARGE", "POST", "/v1/environments", big)
		// Without a Content-Length the limit still holds.
		req, _ := http.NewRequest("POST", env.BaseURL+"/v1/environments", io.MultiReader(strings.NewReader(big)))
		req.SetBasicAuth(a.key, a.secret)
		req.ContentLength = -1
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !strings.Contains(string(raw), "REQUEST_TOO_LARGE") {
			t.Fatalf("chunked oversized body: %d %s", resp.StatusCode, raw)
		}

		a.fails(404, "NOT_FOUND", "GET", "/v1/environments/env-doesnotexist", nil, "env-doesnotexist")
		a.fails(400, "INVALID_ARGUMENT", "GET", "/v1/environments/production", nil, "env-")
		a.fails(404, "NOT_FOUND", "POST", "/v1/environments/env-doesnotexist/clusters", map[string]any{"display_name": "c"}, "environment")
		a.fails(404, "NOT_FOUND", "GET", "/v1/environments/env-doesnotexist/clusters/lkc-doesnotexist/topics", nil, "cluster")
		a.fails(404, "ROUTE_NOT_FOUND", "GET", "/v1/bananas", nil)
		a.fails(405, "METHOD_NOT_ALLOWED", "PUT", "/v1/environments", map[string]any{})

		e := a.must(200, "POST", "/v1/environments", map[string]any{"display_name": "dup"})
		a.fails(409, "ALREADY_EXISTS", "POST", "/v1/environments", map[string]any{"display_name": "dup"}, "dup")
		a.fails(409, "ETAG_MISMATCH", "PATCH", "/v1/environments/"+e.str("id"), map[string]any{"description": "x", "etag": "stale"})
		a.fails(409, "ETAG_MISMATCH", "DELETE", "/v1/environments/"+e.str("id")+"?etag=stale", nil)
		a.fails(400, "INVALID_ARGUMENT", "PATCH", "/v1/environments/"+e.str("id")+"?update_mask=nonsense", map[string]any{"description": "x"}, "update_mask")
		upd := a.must(200, "PATCH", "/v1/environments/"+e.str("id"), map[string]any{"description": "now described", "etag": e.str("etag"), "id": e.str("id"), "create_time": e.str("create_time")})
		if upd.str("description") != "now described" || upd.str("display_name") != "dup" || upd.str("etag") == e.str("etag") {
			t.Fatalf("patched environment: %s", upd.raw)
		}

		// Idempotent creates.
		r1 := a.must(200, "POST", "/v1/environments?request_id=retry-1", map[string]any{"display_name": "retried"})
		r2 := a.must(200, "POST", "/v1/environments?request_id=retry-1", map[string]any{"display_name": "retried"})
		if r1.str("id") != r2.str("id") {
			t.Fatalf("retry made a second environment: %s vs %s", r1.str("id"), r2.str("id"))
		}
		a.fails(409, "REQUEST_ID_REUSED", "POST", "/v1/environments?request_id=retry-1", map[string]any{"display_name": "other"})

		cluster := a.must(200, "POST", "/v1/environments/"+e.str("id")+"/clusters", map[string]any{"display_name": "c1"})
		a.fails(409, "ALREADY_EXISTS", "POST", "/v1/environments/"+e.str("id")+"/clusters", map[string]any{"display_name": "c1"})
		a.fails(400, "INVALID_ARGUMENT", "POST", "/v1/environments/"+e.str("id")+"/clusters",
			map[string]any{"display_name": "c2", "spec": map[string]any{"type": "HUGE", "plan": "BASIC", "limits": map[string]any{"max_partitions": 1000000}}}, "spec.type", "max_partitions")
		waitOp(t, a, cluster.str("status.operation_id"))
		topics := "/v1/environments/" + e.str("id") + "/clusters/" + cluster.str("id") + "/topics"
		a.fails(400, "INVALID_ARGUMENT", "POST", topics, map[string]any{"name": "bad name!"}, "topic.name")
		a.fails(400, "INVALID_ARGUMENT", "POST", topics, map[string]any{"name": ".."}, "topic.name")
		a.fails(400, "INVALID_ARGUMENT", "POST", topics, map[string]any{"name": "big", "partitions_count": 100000}, "partitions_count")
		a.must(200, "POST", topics, map[string]any{"name": "t1"})
		a.fails(409, "ALREADY_EXISTS", "POST", topics, map[string]any{"name": "t1"}, "t1")
		a.fails(400, "INVALID_ARGUMENT", "PATCH", topics+"/t1", map[string]any{"partitions_count": 1}, "grow")
		a.fails(400, "INVALID_ARGUMENT", "POST", "/v1/api-keys", map[string]any{"owner": "bob", "resource": "everything"}, "owner", "resource")
		a.fails(404, "NOT_FOUND", "POST", "/v1/api-keys", map[string]any{"owner": "sa-nobody", "resource": "cloud"}, "sa-nobody")
		a.fails(400, "INVALID_ARGUMENT", "POST", "/v1/role-bindings", map[string]any{"principal": "User:sa-x", "role_name": "God", "crn_pattern": "crn://affluent/organization=" + env.Boot.OrganizationID}, "unknown role")
		a.fails(400, "INVALID_ARGUMENT", "POST", "/v1/role-bindings", map[string]any{"principal": "User:sa-x", "role_name": "OrganizationAdmin", "crn_pattern": "crn://affluent/organization=someone-else"}, "organization")
		a.fails(404, "NOT_FOUND", "POST", "/v1/role-bindings", map[string]any{"principal": "User:sa-nobody", "role_name": "OrganizationAdmin", "crn_pattern": "crn://affluent/organization=" + env.Boot.OrganizationID}, "sa-nobody")

		if got := count(); got != before+2 {
			t.Fatalf("%d environments after the bad requests, want %d (only dup and retried)", got, before+2)
		}
	})
}

func TestRESTAuthentication(t *testing.T) {
	env := cptest.Start(t, "sqlite", cptest.Options{})
	anon := api{t: t, base: env.BaseURL}
	anon.fails(401, "UNAUTHENTICATED", "GET", "/v1/environments", nil, "Authorization")
	wrong := api{t: t, base: env.BaseURL, key: env.Boot.CloudAPIKey, secret: strings.Repeat("A", 64)}
	wrong.fails(401, "UNAUTHENTICATED", "GET", "/v1/environments", nil, "invalid API key or secret")
	unknown := api{t: t, base: env.BaseURL, key: "ABCDEFGHIJKLMNOP", secret: env.Boot.CloudAPISecret}
	unknown.fails(401, "UNAUTHENTICATED", "GET", "/v1/environments", nil, "invalid API key or secret")
	kafkaKey := api{t: t, base: env.BaseURL, key: env.Boot.KafkaAPIKey, secret: env.Boot.KafkaAPISecret}
	kafkaKey.fails(401, "UNAUTHENTICATED", "GET", "/v1/environments", nil, "Kafka API key")

	req, _ := http.NewRequest("GET", env.BaseURL+"/v1/environments", nil)
	req.Header.Set("Authorization", "Bearer some.jwt.token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("bearer token without a verifier: %d, want 401", resp.StatusCode)
	}

	a := adminAPI(t, env)
	a.requestID = "trace-me-42"
	r := a.must(200, "GET", "/v1/environments", nil)
	if r.header.Get("X-Request-Id") != "trace-me-42" {
		t.Fatalf("X-Request-Id = %q, want the one sent", r.header.Get("X-Request-Id"))
	}
	a.requestID = ""
	if id := a.must(200, "GET", "/v1/environments", nil).header.Get("X-Request-Id"); len(id) < 16 {
		t.Fatalf("generated X-Request-Id %q", id)
	}
	if e := anon.do("GET", "/v1/environments", nil); e.str("request_id") != e.header.Get("X-Request-Id") {
		t.Fatalf("error body request_id %q differs from header %q", e.str("request_id"), e.header.Get("X-Request-Id"))
	}
}

func TestRESTRateLimit(t *testing.T) {
	env := cptest.Start(t, "sqlite", cptest.Options{RateLimit: 0.001, RateBurst: 3})
	a := adminAPI(t, env)
	var last response
	for range 5 {
		last = a.do("GET", "/v1/environments", nil)
	}
	if last.status != 429 || last.str("code") != "RATE_LIMITED" {
		t.Fatalf("after the burst: %d %s, want 429 RATE_LIMITED", last.status, last.raw)
	}
}

// TestSecretsNeverLeak checks logs and the database for API secrets and
// Authorization headers.
func TestSecretsNeverLeak(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		env := cptest.Start(t, engine, cptest.Options{})
		a := adminAPI(t, env)
		sa := a.must(200, "POST", "/v1/service-accounts", map[string]any{"display_name": "leaky"})
		k := a.must(200, "POST", "/v1/api-keys", map[string]any{"owner": sa.str("id"), "resource": "cloud"})
		secret := k.str("secret")
		user := api{t: t, base: env.BaseURL, key: k.str("id"), secret: secret}
		user.do("GET", "/v1/environments", nil)
		(api{t: t, base: env.BaseURL, key: k.str("id"), secret: secret[:63] + "!"}).do("GET", "/v1/environments", nil)

		secrets := map[string]string{
			"new key secret":         secret,
			"bootstrap cloud secret": env.Boot.CloudAPISecret,
			"bootstrap kafka secret": env.Boot.KafkaAPISecret,
			"authorization header":   base64.StdEncoding.EncodeToString([]byte(k.str("id") + ":" + secret)),
		}
		logs := env.Logs.String()
		if !strings.Contains(logs, `"msg":"http request"`) || !strings.Contains(logs, k.str("id")) {
			t.Fatalf("access log missing or without the key id:\n%s", logs)
		}
		for what, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("%s appears in the logs", what)
			}
		}
		// Every text cell of every table.
		db := env.CP.Store().DB()
		tables := []string{"organizations", "environments", "clusters", "operations", "service_accounts", "users", "api_keys",
			"role_bindings", "identity_providers", "identity_pools", "certificate_authorities", "certificate_pools",
			"client_quotas", "audit_events", "request_ids"}
		cells := 0
		for _, table := range tables {
			rows, err := db.Query("SELECT * FROM " + table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					cells++
					s := fmt.Sprint(v)
					if b, ok := v.([]byte); ok {
						s = string(b)
					}
					for what, secret := range secrets {
						if strings.Contains(s, secret) {
							t.Errorf("%s stored in clear in %s.%s", what, table, cols[i])
						}
					}
					if table == "api_keys" && cols[i] == "secret_hash" && !strings.HasPrefix(s, "$argon2id$") {
						t.Errorf("api_keys.secret_hash %q is not an argon2id hash", s)
					}
				}
			}
			rows.Close()
		}
		if cells == 0 {
			t.Fatal("scanned no rows")
		}
		if engine == "sqlite" {
			// The files themselves, write-ahead log included.
			path := strings.TrimPrefix(metadataPath(t, env), "sqlite://")
			for _, f := range []string{path, path + "-wal"} {
				raw, err := os.ReadFile(f)
				if err != nil {
					continue
				}
				for what, s := range secrets {
					if bytes.Contains(raw, []byte(s)) {
						t.Errorf("%s found in %s", what, f)
					}
				}
			}
		}
	})
}

func metadataPath(t *testing.T, env *cptest.Env) string {
	var file string
	if err := env.CP.Store().DB().QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestOpenAPIListsEveryContractPath(t *testing.T) {
	env := cptest.Start(t, "sqlite", cptest.Options{})
	resp, err := http.Get(env.BaseURL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		Swagger string                    `json:"swagger"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if doc.Swagger != "2.0" {
		t.Fatalf("swagger = %q, want 2.0", doc.Swagger)
	}
	// CONTRACT.md's table; each collection has GET and POST, each item GET,
	// PATCH and DELETE (ACLs and role bindings are immutable: no PATCH).
	collections := map[string]string{
		"/v1/environments":                                                "/v1/environments/{id}",
		"/v1/environments/{environment}/clusters":                         "/v1/environments/{environment}/clusters/{id}",
		"/v1/environments/{environment}/clusters/{cluster}/topics":        "/v1/environments/{environment}/clusters/{cluster}/topics/{name}",
		"/v1/environments/{environment}/clusters/{cluster}/acls":          "/v1/environments/{environment}/clusters/{cluster}/acls/{id}",
		"/v1/environments/{environment}/clusters/{cluster}/client-quotas": "/v1/environments/{environment}/clusters/{cluster}/client-quotas/{id}",
		"/v1/service-accounts":                                            "/v1/service-accounts/{id}",
		"/v1/api-keys":                                                    "/v1/api-keys/{id}",
		"/v1/role-bindings":                                               "/v1/role-bindings/{id}",
		"/v1/identity-providers":                                          "/v1/identity-providers/{id}",
		"/v1/identity-providers/{provider}/identity-pools":                "/v1/identity-providers/{provider}/identity-pools/{id}",
		"/v1/certificate-authorities":                                     "/v1/certificate-authorities/{id}",
		"/v1/certificate-authorities/{ca}/certificate-pools":              "/v1/certificate-authorities/{ca}/certificate-pools/{id}",
	}
	immutable := map[string]bool{"/v1/environments/{environment}/clusters/{cluster}/acls/{id}": true, "/v1/role-bindings/{id}": true}
	for coll, item := range collections {
		for _, m := range []string{"get", "post"} {
			if _, ok := doc.Paths[coll][m]; !ok {
				t.Errorf("openapi.json lacks %s %s", strings.ToUpper(m), coll)
			}
		}
		for _, m := range []string{"get", "patch", "delete"} {
			if m == "patch" && immutable[item] {
				continue
			}
			if _, ok := doc.Paths[item][m]; !ok {
				t.Errorf("openapi.json lacks %s %s", strings.ToUpper(m), item)
			}
		}
	}
	if _, ok := doc.Paths["/v1/operations/{operation}"]["get"]; !ok {
		t.Error("openapi.json lacks GET /v1/operations/{operation}")
	}
}
