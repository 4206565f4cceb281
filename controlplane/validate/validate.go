// Package validate holds every rule the API applies to user input, in one
// place: names, identifiers, paging, URLs, certificates. Rules report into a
// Report so a request with several bad fields hears about all of them in one
// INVALID_ARGUMENT error.
package validate

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/resource"
)

// Limits of the API.
const (
	MaxDisplayName     = 64
	MaxDescription     = 256
	MaxTopicName       = 249
	MaxRequestID       = 128
	DefaultPageSize    = 50
	MaxPageSize        = 1000
	MaxPrincipals      = 100
	MaxTopicConfigs    = 100
	MaxFilter          = 4096
	MaxCertificateSize = 256 << 10
)

// Report collects the problems of one request.
type Report struct {
	problems []string
}

// Add records a problem with field.
func (r *Report) Add(field, format string, args ...any) {
	r.problems = append(r.problems, field+": "+fmt.Sprintf(format, args...))
}

// Err is nil when nothing was reported, else one INVALID_ARGUMENT error
// listing every problem.
func (r *Report) Err() error {
	if len(r.problems) == 0 {
		return nil
	}
	return apierr.New(apierr.InvalidArgument, "%s", strings.Join(r.problems, "; "))
}

// Required reports an empty value.
func (r *Report) Required(field, v string) bool {
	if strings.TrimSpace(v) == "" {
		r.Add(field, "required")
		return false
	}
	return true
}

// DisplayName checks a display name: 1 to 64 printable characters without
// leading or trailing spaces. Empty is reported only when required.
func (r *Report) DisplayName(field, v string, required bool) {
	if v == "" {
		if required {
			r.Add(field, "required")
		}
		return
	}
	switch {
	case !utf8.ValidString(v):
		r.Add(field, "must be UTF-8")
	case utf8.RuneCountInString(v) > MaxDisplayName:
		r.Add(field, "at most %d characters", MaxDisplayName)
	case strings.TrimSpace(v) != v:
		r.Add(field, "must not start or end with spaces")
	case strings.IndexFunc(v, func(c rune) bool { return !unicode.IsPrint(c) }) >= 0:
		r.Add(field, "must be printable characters")
	}
}

// Description checks free text: at most 256 characters, no control
// characters but newlines.
func (r *Report) Description(field, v string) {
	switch {
	case !utf8.ValidString(v):
		r.Add(field, "must be UTF-8")
	case utf8.RuneCountInString(v) > MaxDescription:
		r.Add(field, "at most %d characters", MaxDescription)
	case strings.IndexFunc(v, func(c rune) bool { return c != '\n' && unicode.IsControl(c) }) >= 0:
		r.Add(field, "must not contain control characters")
	}
}

var topicNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// TopicName checks Kafka's rules: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
func (r *Report) TopicName(field, v string) {
	switch {
	case v == "":
		r.Add(field, "required")
	case len(v) > MaxTopicName:
		r.Add(field, "at most %d characters", MaxTopicName)
	case v == "." || v == "..":
		r.Add(field, "must not be %q", v)
	case !topicNameRE.MatchString(v):
		r.Add(field, "only letters, digits, '.', '_' and '-' are allowed")
	}
}

// ID checks an identifier with its prefix, for example ID("environment", v, "env-").
func (r *Report) ID(field, v, prefix string) bool {
	if v == "" {
		r.Add(field, "required")
		return false
	}
	if !resource.HasID(v, prefix) {
		r.Add(field, "%q is not an id of the form %s…", v, prefix)
		return false
	}
	return true
}

// RequestID checks an idempotency key: up to 128 of [A-Za-z0-9._:-].
func (r *Report) RequestID(field, v string) {
	if len(v) > MaxRequestID {
		r.Add(field, "at most %d characters", MaxRequestID)
		return
	}
	for _, c := range v {
		if !(c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune("._:-", c))) {
			r.Add(field, "only letters, digits, '.', '_', ':' and '-' are allowed")
			return
		}
	}
}

// PageSize returns the page size to use: DefaultPageSize for 0, at most
// MaxPageSize; negative values are reported.
func (r *Report) PageSize(field string, n int32) int {
	switch {
	case n < 0:
		r.Add(field, "must not be negative")
		return DefaultPageSize
	case n == 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	}
	return int(n)
}

// Email checks a plain address (no display name).
func (r *Report) Email(field, v string) {
	if !r.Required(field, v) {
		return
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || len(v) > 254 {
		r.Add(field, "%q is not an email address", v)
	}
}

// URL checks an https URL; http is accepted for loopback hosts (tests,
// `affluent dev`).
func (r *Report) URL(field, v string) {
	if !r.Required(field, v) {
		return
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		r.Add(field, "%q is not an absolute URL", v)
		return
	}
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); !(host == "localhost" || ip != nil && ip.IsLoopback()) {
			r.Add(field, "must use https (http only for loopback hosts)")
		}
	default:
		r.Add(field, "must use https")
	}
}

// Principal checks `User:<id>` where id is a service account, user or
// pool; wildcard allows `User:*` (ACLs).
func (r *Report) Principal(field, v string, wildcard bool) {
	id, ok := resource.PrincipalID(v)
	switch {
	case !ok:
		r.Add(field, "%q must be User:<id>", v)
	case wildcard && id == "*":
	case resource.HasID(id, resource.PrefixServiceAccount), resource.HasID(id, resource.PrefixUser),
		resource.HasID(id, resource.PrefixPool):
	default:
		r.Add(field, "%q must name a service account (sa-…), user (u-…) or pool (pool-…)", v)
	}
}

// OneOf checks that v is one of allowed, when set (or always, when required).
func (r *Report) OneOf(field, v string, required bool, allowed ...string) {
	if v == "" && !required {
		return
	}
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	r.Add(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

// Filter checks a pool filter expression: non-empty and bounded (its
// language is evaluated by the token and mTLS code, not here).
func (r *Report) Filter(field, v string) {
	if !r.Required(field, v) {
		return
	}
	if len(v) > MaxFilter {
		r.Add(field, "at most %d characters", MaxFilter)
	}
}

// CertificateInfo is what the API shows of a certificate chain.
type CertificateInfo struct {
	Fingerprints []string
	NotAfter     []time.Time
}

// CertificateChain checks PEM certificates, the CA first, and describes them.
func (r *Report) CertificateChain(field, v string) CertificateInfo {
	var info CertificateInfo
	if !r.Required(field, v) {
		return info
	}
	if len(v) > MaxCertificateSize {
		r.Add(field, "at most %d bytes", MaxCertificateSize)
		return info
	}
	certs, err := ParseChain(v)
	if err != nil {
		r.Add(field, "%v", err)
		return info
	}
	if !certs[0].IsCA {
		r.Add(field, "the first certificate is not a CA certificate")
	}
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		info.Fingerprints = append(info.Fingerprints, hex.EncodeToString(sum[:]))
		info.NotAfter = append(info.NotAfter, c.NotAfter)
	}
	return info
}

// ParseChain parses PEM certificates; anything else in the text is an error.
func ParseChain(v string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(v)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q is not a CERTIFICATE", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("not PEM certificates")
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return certs, nil
}

// Etag checks an etag sent back by a client.
func (r *Report) Etag(field, v string) {
	if len(v) > 128 {
		r.Add(field, "at most 128 characters")
	}
}
