package broker

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// PrincipalMappingRules turn a certificate's subject distinguished name
// into a principal name, as Kafka's ssl.principal.mapping.rules do:
//
//	RULE:pattern/replacement/[L|U], …, DEFAULT
//
// Rules are tried in order; the first whose pattern matches the whole DN
// (RFC 2253 form, CN first: "CN=orders,OU=apps,O=Acme") gives the name,
// its replacement expanding $1…, lowercased with L or uppercased with U.
// DEFAULT gives the DN itself. No matching rule is an error.
type PrincipalMappingRules []principalRule

type principalRule struct {
	pattern     *regexp.Regexp // nil: DEFAULT
	replacement string
	toCase      byte // 0, 'L' or 'U'
}

// ParsePrincipalMappingRules parses rules in Kafka's syntax. An empty
// string is DEFAULT.
func ParsePrincipalMappingRules(s string) (PrincipalMappingRules, error) {
	var rules PrincipalMappingRules
	rest := s
	for {
		rest = strings.TrimLeft(rest, " \t\n,")
		if rest == "" {
			break
		}
		if r, ok := strings.CutPrefix(rest, "DEFAULT"); ok {
			rules = append(rules, principalRule{})
			rest = r
			continue
		}
		r, ok := strings.CutPrefix(rest, "RULE:")
		if !ok {
			return nil, fmt.Errorf("principal mapping rules: want RULE:pattern/replacement/[LU] or DEFAULT at %q", rest)
		}
		pattern, r, ok := cutUnescaped(r, '/')
		if !ok {
			return nil, errors.New("principal mapping rules: pattern not terminated by /")
		}
		replacement, r, ok := cutUnescaped(r, '/')
		if !ok {
			return nil, errors.New("principal mapping rules: replacement not terminated by /")
		}
		rule := principalRule{replacement: replacement}
		if r != "" && (r[0] == 'L' || r[0] == 'U') {
			rule.toCase, r = r[0], r[1:]
		}
		if r != "" && !strings.ContainsAny(r[:1], " \t\n,") {
			return nil, fmt.Errorf("principal mapping rules: unexpected %q after a rule", r)
		}
		re, err := regexp.Compile("^(?:" + pattern + ")$")
		if err != nil {
			return nil, fmt.Errorf("principal mapping rules: pattern %q: %w", pattern, err)
		}
		rule.pattern = re
		rules = append(rules, rule)
		rest = r
	}
	if len(rules) == 0 {
		rules = PrincipalMappingRules{{}}
	}
	return rules, nil
}

// cutUnescaped cuts s at the first sep not escaped by a backslash; "\/"
// becomes "/".
func cutUnescaped(s string, sep byte) (before, after string, found bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == sep:
			b.WriteByte(sep)
			i++
		case s[i] == sep:
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", false
}

// Map returns the name the rules give dn.
func (rules PrincipalMappingRules) Map(dn string) (string, error) {
	for _, r := range rules {
		if r.pattern == nil {
			return dn, nil
		}
		m := r.pattern.FindStringSubmatchIndex(dn)
		if m == nil {
			continue
		}
		name := string(r.pattern.ExpandString(nil, r.replacement, dn, m))
		switch r.toCase {
		case 'L':
			name = strings.ToLower(name)
		case 'U':
			name = strings.ToUpper(name)
		}
		if name == "" {
			return "", fmt.Errorf("principal mapping rule %s gives an empty name", r.pattern)
		}
		return name, nil
	}
	return "", errors.New("no principal mapping rule applies")
}

// VerifyClientChain verifies a client certificate chain (leaf first, as
// TLS delivers it) against roots, for client authentication, and returns
// the leaf.
func VerifyClientChain(chain []*x509.Certificate, roots *x509.CertPool) (*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, errors.New("no client certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, err
	}
	return chain[0], nil
}

// StaticCertificateAuthenticator accepts client certificates of fixed CAs,
// as principals User:<mapped subject> of one cluster. It is for
// development, tests and single-tenant brokers; Affluent's certificate
// pools bind CAs and clusters per organization in the control plane.
type StaticCertificateAuthenticator struct {
	Roots   *x509.CertPool
	Rules   PrincipalMappingRules
	Cluster string
}

// AuthenticateCertificate implements CertificateAuthenticator.
func (s *StaticCertificateAuthenticator) AuthenticateCertificate(_ context.Context, chain []*x509.Certificate) (Principal, error) {
	leaf, err := VerifyClientChain(chain, s.Roots)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrInvalidCredentials, err)
	}
	dn := leaf.Subject.String()
	name, err := s.Rules.Map(dn)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrInvalidCredentials, err)
	}
	return Principal{Name: "User:" + name, Cluster: s.Cluster, Identity: dn}, nil
}
