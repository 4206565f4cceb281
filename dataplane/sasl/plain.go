package sasl

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

// MechanismPlain is the SASL PLAIN mechanism name (RFC 4616).
const MechanismPlain = "PLAIN"

// ErrMalformedPlain reports a PLAIN message that is not
// [authzid] NUL authcid NUL passwd. Its text names the rule that failed but
// never echoes the input, which may hold a password.
var ErrMalformedPlain = errors.New("malformed SASL/PLAIN message")

// PlainCredentials is a parsed PLAIN message.
type PlainCredentials struct {
	// AuthzID is the identity to act as. Kafka allows it only empty or
	// equal to Username, and so do we.
	AuthzID  string
	Username string
	Password string
}

// ParsePlain parses a SASL PLAIN initial response (RFC 4616):
//
//	message = [authzid] UTF8NUL authcid UTF8NUL passwd
//
// Username and password must be non-empty valid UTF-8 without NUL, and the
// authorization id, when given, must equal the username (as Kafka's
// PlainSaslServer requires).
func ParsePlain(msg []byte) (PlainCredentials, error) {
	authzid, rest, ok := bytes.Cut(msg, []byte{0})
	if !ok {
		return PlainCredentials{}, malformed("missing separator")
	}
	username, password, ok := bytes.Cut(rest, []byte{0})
	if !ok {
		return PlainCredentials{}, malformed("missing separator")
	}
	switch {
	case bytes.IndexByte(password, 0) >= 0:
		return PlainCredentials{}, malformed("too many fields")
	case len(username) == 0:
		return PlainCredentials{}, malformed("username not specified")
	case len(password) == 0:
		return PlainCredentials{}, malformed("password not specified")
	case !utf8.Valid(authzid) || !utf8.Valid(username) || !utf8.Valid(password):
		return PlainCredentials{}, malformed("not UTF-8")
	case len(authzid) > 0 && !bytes.Equal(authzid, username):
		return PlainCredentials{}, malformed("authorization id differs from username")
	}
	return PlainCredentials{
		AuthzID:  string(authzid),
		Username: string(username),
		Password: string(password),
	}, nil
}

// AppendPlain appends the PLAIN message for username and password, without an
// authorization id. Clients and tests use it.
func AppendPlain(dst []byte, username, password string) []byte {
	dst = append(dst, 0)
	dst = append(dst, username...)
	dst = append(dst, 0)
	return append(dst, password...)
}

func malformed(why string) error {
	return &plainError{why: why}
}

type plainError struct{ why string }

func (e *plainError) Error() string { return ErrMalformedPlain.Error() + ": " + e.why }
func (e *plainError) Unwrap() error { return ErrMalformedPlain }
