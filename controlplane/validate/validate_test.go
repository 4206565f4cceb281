package validate

import (
	"strings"
	"testing"
)

func TestTopicNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"orders", true}, {"orders.eu-1_v2", true}, {strings.Repeat("a", 249), true},
		{"", false}, {".", false}, {"..", false}, {"bad name", false}, {"orders/eu", false},
		{"ünïcode", false}, {strings.Repeat("a", 250), false}, {"a*", false},
	}
	for _, tt := range tests {
		var r Report
		r.TopicName("name", tt.name)
		if (r.Err() == nil) != tt.ok {
			t.Errorf("TopicName(%q) = %v, want ok=%v", tt.name, r.Err(), tt.ok)
		}
	}
}

func TestDisplayNames(t *testing.T) {
	tests := []struct {
		name     string
		required bool
		ok       bool
	}{
		{"Payments team", true, true}, {"équipe paiements", true, true}, {strings.Repeat("é", 64), true, true},
		{"", true, false}, {"", false, true}, {strings.Repeat("x", 65), true, false},
		{" lead", true, false}, {"trail ", true, false}, {"tab\there", true, false}, {"\xff", true, false},
	}
	for _, tt := range tests {
		var r Report
		r.DisplayName("display_name", tt.name, tt.required)
		if (r.Err() == nil) != tt.ok {
			t.Errorf("DisplayName(%q, required=%v) = %v, want ok=%v", tt.name, tt.required, r.Err(), tt.ok)
		}
	}
}

func TestURLs(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://idp.example.com", true}, {"https://idp.example.com/.well-known/jwks.json", true},
		{"http://127.0.0.1:8080/jwks", true}, {"http://localhost/jwks", true}, {"http://[::1]:9/jwks", true},
		{"http://idp.example.com", false}, {"ftp://idp.example.com", false}, {"idp.example.com", false},
		{"https://user:pw@idp.example.com", false}, {"", false}, {"https://idp.example.com/#frag", false},
	}
	for _, tt := range tests {
		var r Report
		r.URL("issuer", tt.url)
		if (r.Err() == nil) != tt.ok {
			t.Errorf("URL(%q) = %v, want ok=%v", tt.url, r.Err(), tt.ok)
		}
	}
}

func TestPrincipals(t *testing.T) {
	tests := []struct {
		p        string
		wildcard bool
		ok       bool
	}{
		{"User:sa-abc123", false, true}, {"User:u-abc", false, true}, {"User:pool-x1", false, true},
		{"User:*", true, true}, {"User:*", false, false}, {"sa-abc", false, false}, {"User:bob", false, false},
		{"Group:sa-abc", false, false}, {"User:sa-", false, false}, {"User:SA-ABC", false, false},
	}
	for _, tt := range tests {
		var r Report
		r.Principal("principal", tt.p, tt.wildcard)
		if (r.Err() == nil) != tt.ok {
			t.Errorf("Principal(%q, wildcard=%v) = %v, want ok=%v", tt.p, tt.wildcard, r.Err(), tt.ok)
		}
	}
}

func TestReportCollectsEveryProblem(t *testing.T) {
	var r Report
	r.DisplayName("a", "", true)
	r.TopicName("b", "..")
	r.RequestID("c", "has space")
	if n := r.PageSize("page_size", 5000); n != MaxPageSize {
		t.Errorf("PageSize(5000) = %d, want %d", n, MaxPageSize)
	}
	if n := r.PageSize("page_size", 0); n != DefaultPageSize {
		t.Errorf("PageSize(0) = %d, want %d", n, DefaultPageSize)
	}
	err := r.Err()
	for _, field := range []string{"a: required", "b:", "c:"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("error %v does not report %q", err, field)
		}
	}
}

func TestCertificateChain(t *testing.T) {
	var r Report
	r.CertificateChain("chain", "not pem at all")
	if r.Err() == nil {
		t.Fatal("garbage accepted as a certificate chain")
	}
	var r2 Report
	r2.CertificateChain("chain", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	if r2.Err() == nil || !strings.Contains(r2.Err().Error(), "CERTIFICATE") {
		t.Fatalf("a private key accepted as a certificate: %v", r2.Err())
	}
}
