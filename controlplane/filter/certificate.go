package filter

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"
)

// oidUID is the userid attribute (RFC 4519), which pkix.Name does not name.
var oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// CertificateFields are what certificate pool filters see of a client
// certificate, as the variable certificate:
//
//	CN, UID, O, OU, C, L, ST  the subject's attributes (strings; the first
//	                          value when there are several, "" when none)
//	DN                        the subject, RFC 2253 form ("CN=a,OU=b")
//	SAN                       the subject alternative names: DNS names,
//	                          emails, URIs and IP addresses (a list)
//	issuer                    the issuer's DN
//	serial                    the serial number, hex
func CertificateFields(c *x509.Certificate) map[string]any {
	first := func(v []string) string {
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	uid := ""
	for _, a := range c.Subject.Names {
		if a.Type.Equal(oidUID) {
			uid = fmt.Sprint(a.Value)
			break
		}
	}
	san := []any{}
	for _, d := range c.DNSNames {
		san = append(san, d)
	}
	for _, e := range c.EmailAddresses {
		san = append(san, e)
	}
	for _, u := range c.URIs {
		san = append(san, u.String())
	}
	for _, ip := range c.IPAddresses {
		san = append(san, ip.String())
	}
	return map[string]any{
		"CN":     c.Subject.CommonName,
		"UID":    uid,
		"O":      first(c.Subject.Organization),
		"OU":     first(c.Subject.OrganizationalUnit),
		"C":      first(c.Subject.Country),
		"L":      first(c.Subject.Locality),
		"ST":     first(c.Subject.Province),
		"DN":     c.Subject.String(),
		"SAN":    san,
		"issuer": c.Issuer.String(),
		"serial": strings.ToLower(c.SerialNumber.Text(16)),
	}
}

// ExternalIdentifier is the value of the field a certificate pool names
// its callers by (CN, UID, OU, O or SAN: the first name), "" if absent.
func ExternalIdentifier(fields map[string]any, field string) string {
	switch v := fields[field].(type) {
	case string:
		return v
	case []any:
		if len(v) > 0 {
			return fmt.Sprint(v[0])
		}
	}
	return ""
}
