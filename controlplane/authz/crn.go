package authz

import (
	"fmt"
	"net/url"
	"strings"
)

// CRNPrefix starts every Affluent resource name.
const CRNPrefix = "crn://affluent/"

// Resource types, in the order they nest. A CRN is a path of type=value
// segments from the organization down, for example
// crn://affluent/organization=O/environment=env-1/cloud-cluster=lkc-1/kafka=lkc-1/topic=orders.
const (
	TypeOrganization         = "organization"
	TypeEnvironment          = "environment"
	TypeCloudCluster         = "cloud-cluster"
	TypeKafka                = "kafka"
	TypeTopic                = "topic"
	TypeGroup                = "group"
	TypeTransactionalID      = "transactional-id"
	TypeServiceAccount       = "service-account"
	TypeUser                 = "user"
	TypeAPIKey               = "api-key"
	TypeIdentityProvider     = "identity-provider"
	TypeIdentityPool         = "identity-pool"
	TypeCertificateAuthority = "certificate-authority"
	TypeCertificatePool      = "certificate-pool"
)

// parentTypes says under which type each type may appear.
var parentTypes = map[string][]string{
	TypeOrganization:         nil,
	TypeEnvironment:          {TypeOrganization},
	TypeCloudCluster:         {TypeEnvironment},
	TypeKafka:                {TypeCloudCluster},
	TypeTopic:                {TypeKafka},
	TypeGroup:                {TypeKafka},
	TypeTransactionalID:      {TypeKafka},
	TypeServiceAccount:       {TypeOrganization},
	TypeUser:                 {TypeOrganization},
	TypeAPIKey:               {TypeOrganization, TypeCloudCluster},
	TypeIdentityProvider:     {TypeOrganization},
	TypeIdentityPool:         {TypeIdentityProvider},
	TypeCertificateAuthority: {TypeOrganization},
	TypeCertificatePool:      {TypeCertificateAuthority},
}

// Segment is one type=value step of a CRN. In a pattern, Prefix means Value
// is a prefix (written with a trailing `*`; `*` alone is the empty prefix,
// matching every name).
type Segment struct {
	Type   string
	Value  string
	Prefix bool
}

// CRN names a resource, or with wildcards in its last segment, a set of
// resources (a pattern).
type CRN struct {
	segs []Segment
}

// Organization is the CRN of an organization, the root of every other.
func Organization(id string) CRN { return CRN{segs: []Segment{{Type: TypeOrganization, Value: id}}} }

// Child returns the CRN of the resource of type typ named value inside c.
func (c CRN) Child(typ, value string) CRN {
	segs := make([]Segment, len(c.segs), len(c.segs)+1)
	copy(segs, c.segs)
	return CRN{segs: append(segs, Segment{Type: typ, Value: value})}
}

// ChildPrefix returns the pattern of the resources of type typ inside c
// whose names start with prefix ("" for all of them).
func (c CRN) ChildPrefix(typ, prefix string) CRN {
	p := c.Child(typ, prefix)
	p.segs[len(p.segs)-1].Prefix = true
	return p
}

// Segments returns the segments, root first.
func (c CRN) Segments() []Segment { return append([]Segment(nil), c.segs...) }

// IsZero reports whether c names nothing.
func (c CRN) IsZero() bool { return len(c.segs) == 0 }

// Value returns the value of the first segment of type typ, or "".
func (c CRN) Value(typ string) string {
	for _, s := range c.segs {
		if s.Type == typ {
			return s.Value
		}
	}
	return ""
}

// Last is the innermost segment.
func (c CRN) Last() Segment {
	if len(c.segs) == 0 {
		return Segment{}
	}
	return c.segs[len(c.segs)-1]
}

// String writes the CRN; values are escaped so that `/`, `=`, `%` and `*`
// in names (group names may hold anything) cannot change its structure.
func (c CRN) String() string {
	var b strings.Builder
	b.WriteString(CRNPrefix)
	for i, s := range c.segs {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(s.Type)
		b.WriteByte('=')
		b.WriteString(escapeValue(s.Value))
		if s.Prefix {
			b.WriteByte('*')
		}
	}
	return b.String()
}

func escapeValue(v string) string {
	if !strings.ContainsAny(v, "%/=*") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '%', '/', '=', '*':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ParseCRN parses the name of one resource: no wildcards.
func ParseCRN(s string) (CRN, error) {
	c, err := parse(s)
	if err != nil {
		return CRN{}, err
	}
	for _, seg := range c.segs {
		if seg.Prefix {
			return CRN{}, fmt.Errorf("crn %q: wildcard in a resource name", s)
		}
	}
	return c, nil
}

// ParsePattern parses a CRN pattern: like a CRN, but the value of its last
// segment may end with `*` (a prefix) or be `*` (any name).
func ParsePattern(s string) (CRN, error) { return parse(s) }

func parse(s string) (CRN, error) {
	rest, ok := strings.CutPrefix(s, CRNPrefix)
	if !ok {
		return CRN{}, fmt.Errorf("crn %q: must start with %s", s, CRNPrefix)
	}
	if rest == "" {
		return CRN{}, fmt.Errorf("crn %q: no segments", s)
	}
	parts := strings.Split(rest, "/")
	c := CRN{segs: make([]Segment, 0, len(parts))}
	for i, part := range parts {
		typ, raw, ok := strings.Cut(part, "=")
		if !ok || typ == "" {
			return CRN{}, fmt.Errorf("crn %q: segment %q is not type=value", s, part)
		}
		parents, known := parentTypes[typ]
		if !known {
			return CRN{}, fmt.Errorf("crn %q: unknown resource type %q", s, typ)
		}
		if i == 0 && typ != TypeOrganization {
			return CRN{}, fmt.Errorf("crn %q: must start with organization=", s)
		}
		if i > 0 && !contains(parents, c.segs[i-1].Type) {
			return CRN{}, fmt.Errorf("crn %q: %s cannot be inside %s", s, typ, c.segs[i-1].Type)
		}
		seg := Segment{Type: typ}
		if strings.HasSuffix(raw, "*") {
			if i != len(parts)-1 {
				return CRN{}, fmt.Errorf("crn %q: a wildcard may only end the last segment", s)
			}
			seg.Prefix = true
			raw = strings.TrimSuffix(raw, "*")
		}
		if strings.Contains(raw, "*") {
			return CRN{}, fmt.Errorf("crn %q: `*` may only end the last segment", s)
		}
		v, err := url.PathUnescape(raw)
		if err != nil {
			return CRN{}, fmt.Errorf("crn %q: bad escape in %q", s, raw)
		}
		if v == "" && !seg.Prefix {
			return CRN{}, fmt.Errorf("crn %q: empty value for %s", s, typ)
		}
		seg.Value = v
		c.segs = append(c.segs, seg)
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Matches reports whether pattern p covers resource r: every segment of p
// matches the segment of r at the same depth, and r is p or lies beneath it.
func (p CRN) Matches(r CRN) bool {
	if len(p.segs) == 0 || len(p.segs) > len(r.segs) {
		return false
	}
	for i, ps := range p.segs {
		if !ps.matches(r.segs[i]) {
			return false
		}
	}
	return true
}

// isAncestorOf reports whether resource r lies strictly above pattern p: r's
// segments are a proper prefix of p's.
func (r CRN) isAncestorOf(p CRN) bool {
	if len(r.segs) == 0 || len(r.segs) >= len(p.segs) {
		return false
	}
	for i, rs := range r.segs {
		if !p.segs[i].matches(rs) {
			return false
		}
	}
	return true
}

func (ps Segment) matches(rs Segment) bool {
	if ps.Type != rs.Type {
		return false
	}
	if ps.Prefix {
		return strings.HasPrefix(rs.Value, ps.Value)
	}
	return ps.Value == rs.Value && !rs.Prefix
}
