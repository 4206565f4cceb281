package sasl

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MechanismOAuthBearer is the SASL OAUTHBEARER mechanism name (RFC 7628).
const MechanismOAuthBearer = "OAUTHBEARER"

// ExtensionLogicalCluster is the SASL extension by which Confluent clients
// name the cluster (lkc-…) a token is presented for.
const ExtensionLogicalCluster = "logicalCluster"

// ErrMalformedOAuthBearer reports an OAUTHBEARER message that does not
// follow RFC 7628. Its text never echoes the input, which holds a token.
var ErrMalformedOAuthBearer = errors.New("malformed SASL/OAUTHBEARER message")

// OAuthBearerMessage is a parsed OAUTHBEARER initial client response.
type OAuthBearerMessage struct {
	// AuthzID is the identity to act as, from the gs2 header (may be empty).
	AuthzID string
	// Token is the bearer token of auth=Bearer <token>.
	Token string
	// Extensions are the other key=value pairs (SASL extensions, KIP-342),
	// such as logicalCluster.
	Extensions map[string]string
}

// maxOAuthBearerMessage bounds the message; tokens are a few KiB.
const maxOAuthBearerMessage = 64 << 10

const kvsep = "\x01"

// ParseOAuthBearer parses the initial client response of RFC 7628 §3.1:
//
//	gs2-header kvsep *kvpair kvsep      ; kvsep is 0x01
//	gs2-header = "n," ["a=" saslname] ","
//	kvpair     = key "=" value kvsep    ; key 1*ALPHA, value *(VCHAR / SP / HTAB / CR / LF)
//
// The pair auth=Bearer <token> is required; the token must be a b64token
// (RFC 6750 §2.1). Channel binding is not supported (flag n only).
func ParseOAuthBearer(msg []byte) (OAuthBearerMessage, error) {
	var m OAuthBearerMessage
	if len(msg) > maxOAuthBearerMessage {
		return m, oauthMalformed("message of %d bytes", len(msg))
	}
	if !utf8.Valid(msg) {
		return m, oauthMalformed("not UTF-8")
	}
	s := string(msg)
	flag, rest, ok := strings.Cut(s, ",")
	if !ok {
		return m, oauthMalformed("no gs2 header")
	}
	if flag != "n" {
		return m, oauthMalformed("channel binding flag not supported (want n)")
	}
	authz, rest, ok := strings.Cut(rest, ",")
	if !ok {
		return m, oauthMalformed("gs2 header not terminated")
	}
	if authz != "" {
		v, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return m, oauthMalformed("bad authzid")
		}
		name, err := decodeSaslName(v)
		if err != nil || name == "" {
			return m, oauthMalformed("bad authzid")
		}
		m.AuthzID = name
	}
	body, ok := strings.CutPrefix(rest, kvsep)
	if !ok {
		return m, oauthMalformed("kvsep expected after gs2 header")
	}
	body, ok = strings.CutSuffix(body, kvsep)
	if !ok {
		return m, oauthMalformed("message must end with kvsep")
	}
	// body is now *kvpair, each ending with kvsep.
	if body != "" {
		pairs, ok := strings.CutSuffix(body, kvsep)
		if !ok {
			return m, oauthMalformed("key-value pair not terminated")
		}
		fields := strings.Split(pairs, kvsep)
		if len(fields) > 32 {
			return m, oauthMalformed("too many key-value pairs")
		}
		for _, kv := range fields {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || !isAlpha(k) {
				return m, oauthMalformed("bad key")
			}
			if !validKVValue(v) {
				return m, oauthMalformed("bad value of key %q", k)
			}
			if k == "auth" {
				if m.Token != "" {
					return m, oauthMalformed("auth repeated")
				}
				tok, err := parseBearer(v)
				if err != nil {
					return m, err
				}
				m.Token = tok
				continue
			}
			if m.Extensions == nil {
				m.Extensions = map[string]string{}
			}
			if _, dup := m.Extensions[k]; dup {
				return m, oauthMalformed("key %q repeated", k)
			}
			m.Extensions[k] = v
		}
	}
	if m.Token == "" {
		return m, oauthMalformed("auth=Bearer <token> required")
	}
	return m, nil
}

// parseBearer reads "Bearer <b64token>" (the scheme is case-insensitive).
func parseBearer(v string) (string, error) {
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", oauthMalformed("auth must be Bearer")
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return "", oauthMalformed("empty token")
	}
	// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
	end := strings.TrimRight(tok, "=")
	if end == "" {
		return "", oauthMalformed("token is not a b64token")
	}
	for i := 0; i < len(end); i++ {
		c := end[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			return "", oauthMalformed("token is not a b64token")
		}
	}
	return tok, nil
}

func validKVValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 0x21 && c <= 0x7e || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c >= 0x80) {
			return false
		}
	}
	return true
}

// AppendOAuthBearer appends the initial client response for token and
// extensions (in the order given), without an authzid. Tests use it.
func AppendOAuthBearer(dst []byte, token string, extensions ...[2]string) []byte {
	dst = append(dst, "n,,"+kvsep+"auth=Bearer "...)
	dst = append(dst, token...)
	dst = append(dst, kvsep...)
	for _, e := range extensions {
		dst = append(dst, e[0]+"="+e[1]+kvsep...)
	}
	return append(dst, kvsep...)
}

func oauthMalformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedOAuthBearer, fmt.Sprintf(format, args...))
}
