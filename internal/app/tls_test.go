package app

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/affluent-io/affluent/internal/config"
)

func TestKafkaTLSMaterialIsMadeOnceAndKept(t *testing.T) {
	var cfg config.Config
	cfg.SetDefaults()
	cfg.Storage.DataDir = t.TempDir()
	first, err := loadKafkaTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if first.caFile != filepath.Join(cfg.Storage.DataDir, "tls", "ca.pem") {
		t.Fatalf("ca file %q", first.caFile)
	}
	caPEM, _ := os.ReadFile(first.caFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
		if _, err := first.cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if info, _ := os.Stat(filepath.Join(cfg.Storage.DataDir, "tls", "ca-key.pem")); info.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v, want 0600", info.Mode().Perm())
	}

	again, err := loadKafkaTLS(cfg)
	if err != nil || !bytes.Equal(again.cert.Leaf.Raw, first.cert.Leaf.Raw) {
		t.Fatalf("restart made a new certificate (%v)", err)
	}

	// A new advertised host gets a new server certificate from the same CA.
	cfg.Kafka.AdvertisedAddr = "broker.example.test:9092"
	moved, err := loadKafkaTLS(cfg)
	if err != nil || bytes.Equal(moved.cert.Leaf.Raw, first.cert.Leaf.Raw) {
		t.Fatalf("new host kept the old certificate (%v)", err)
	}
	if _, err := moved.cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "broker.example.test"}); err != nil {
		t.Fatalf("new certificate: %v", err)
	}
	if caAgain, _ := os.ReadFile(first.caFile); !bytes.Equal(caAgain, caPEM) {
		t.Fatal("the CA changed: clients trusting ca_cert_file would break")
	}
}

func TestAdvertisedTLS(t *testing.T) {
	for _, tc := range []struct{ configured, bound, want string }{
		{"", "127.0.0.1:9093", ""},
		{"broker-0.example.com:9092", "0.0.0.0:9093", "broker-0.example.com:9093"},
		{"[::1]:9092", "[::]:9094", "[::1]:9094"},
	} {
		if got := advertisedTLS(tc.configured, tc.bound); got != tc.want {
			t.Errorf("advertisedTLS(%q, %q) = %q, want %q", tc.configured, tc.bound, got, tc.want)
		}
	}
}
