package filter

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"testing"
)

func TestClaimsFilters(t *testing.T) {
	var claims map[string]any
	if err := json.Unmarshal([]byte(`{"sub":"u1","aud":"kafka","groups":["orders","ops"],"exp":1700000000,"tier":3}`), &claims); err != nil {
		t.Fatal(err)
	}
	env := ForClaims()
	for _, tc := range []struct {
		expr    string
		want    bool
		wantErr bool
	}{
		{`claims.aud == "kafka"`, true, false},
		{`claims.aud == "other"`, false, false},
		{`claims.aud == "kafka" && has(claims.groups)`, true, false},
		{`claims.groups.exists(g, g == "orders")`, true, false},
		{`has(claims.email)`, false, false},
		{`claims.email == "x"`, false, true}, // missing key: no match
		{`claims.tier > 2`, true, false},
		{`true`, true, false},
	} {
		got, err := env.Match(tc.expr, claims)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s = %v, %v; want %v (error %v)", tc.expr, got, err, tc.want, tc.wantErr)
		}
	}
	if s, err := env.String("claims.sub", claims); err != nil || s != "u1" {
		t.Errorf("identity claim: %q %v", s, err)
	}
	for _, bad := range []string{`claims.aud ==`, `1 + 1`, `"a string"`, `nope.x == 1`} {
		if err := env.CheckBool(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckBool(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if err := env.CheckString("claims.sub"); err != nil {
		t.Errorf("CheckString(claims.sub): %v", err)
	}
}

func TestCertificateFields(t *testing.T) {
	c := &x509.Certificate{
		SerialNumber: big.NewInt(255),
		Subject: pkix.Name{CommonName: "orders", Organization: []string{"Acme"}, OrganizationalUnit: []string{"apps", "b"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidUID, Value: "u-7"}}},
		DNSNames:    []string{"orders.acme"},
		IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)},
	}
	c.Subject.Names = c.Subject.ExtraNames
	f := CertificateFields(c)
	env := ForCertificate()
	for _, expr := range []string{
		`certificate.CN == "orders"`, `certificate.O == "Acme"`, `certificate.OU == "apps"`, `certificate.UID == "u-7"`,
		`"orders.acme" in certificate.SAN`, `"10.0.0.1" in certificate.SAN`, `certificate.serial == "ff"`,
	} {
		if ok, err := env.Match(expr, f); !ok || err != nil {
			t.Errorf("%s: %v %v", expr, ok, err)
		}
	}
	if id := ExternalIdentifier(f, "SAN"); id != "orders.acme" {
		t.Errorf("SAN identifier %q", id)
	}
	if id := ExternalIdentifier(f, "CN"); id != "orders" {
		t.Errorf("CN identifier %q", id)
	}
}
