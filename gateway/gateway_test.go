package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"

	"github.com/affluent-io/affluent/proto"
)

// noConn is a connection nothing is sent over: these tests stop before
// the control plane.
type noConn struct{ grpc.ClientConnInterface }

func newTestGateway(t *testing.T, opts Options) *Gateway {
	t.Helper()
	opts.Conn = noConn{}
	g, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestCORS(t *testing.T) {
	g := newTestGateway(t, Options{CORSOrigins: []string{"https://portal.example"}})
	req := httptest.NewRequest("OPTIONS", "/v1/environments", nil)
	req.Header.Set("Origin", "https://portal.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "https://portal.example" {
		t.Fatalf("preflight: %d %v", rec.Code, rec.Header())
	}
	req.Header.Set("Origin", "https://evil.example")
	rec = httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS allowed an unlisted origin")
	}
}

func TestOversizedBodyIsRefusedBeforeTheControlPlane(t *testing.T) {
	g := newTestGateway(t, Options{MaxBodyBytes: 10})
	req := httptest.NewRequest("POST", "/v1/environments", http.NoBody)
	req.ContentLength = 11
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	var body errorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 413 || body.Code != "REQUEST_TOO_LARGE" || body.RequestID == "" {
		t.Fatalf("got %d %+v", rec.Code, body)
	}
}

func TestCredentialNameNeverShowsSecrets(t *testing.T) {
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := map[string]string{
		"":                                    "",
		basic("ABCDEFGHIJKLMNOP:supersecret"): "ABCDEFGHIJKLMNOP",
		basic("supersecret-no-key"):           "malformed",
		basic("not-a-key:supersecret"):        "malformed",
		"Basic %%%":                           "malformed",
		"Bearer eyJhbGciOi.secret.sig":        "bearer",
		"Negotiate xyz":                       "unsupported",
	}
	for header, want := range tests {
		if got := credentialName(header); got != want {
			t.Errorf("credentialName(%q) = %q, want %q", header, got, want)
		}
	}
}

func TestOpenAPIDocumentIsCompleted(t *testing.T) {
	raw, err := openAPIDocument(proto.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["securityDefinitions"] == nil || doc["definitions"].(map[string]any)["affluentError"] == nil {
		t.Fatalf("document lacks security definitions or the error body")
	}
}
