package broker

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
)

// Principal is who a connection authenticated as.
type Principal struct {
	// Name is the Kafka principal, e.g. "User:sa-123".
	Name string
	// Cluster is the cluster (lkc-…) the credential belongs to. It scopes
	// everything the connection does.
	Cluster string
}

// Authenticator checks credentials presented over SASL. The control plane's
// credential snapshot implements it in production.
type Authenticator interface {
	// AuthenticatePlain checks a SASL/PLAIN username (a Kafka API key) and
	// password (its secret). Unknown or wrong credentials return an error
	// wrapping ErrInvalidCredentials; other errors mean the check itself
	// failed. Either way the client only learns that authentication
	// failed.
	AuthenticatePlain(ctx context.Context, username, password string) (Principal, error)
}

// ErrInvalidCredentials is what an Authenticator returns for credentials it
// does not accept.
var ErrInvalidCredentials = errors.New("invalid credentials")

// StaticAuthenticator accepts a fixed set of PLAIN credentials: username →
// credential. It is for development and tests.
type StaticAuthenticator map[string]StaticCredential

// StaticCredential is one entry of a StaticAuthenticator.
type StaticCredential struct {
	Password  string
	Principal Principal
}

// AuthenticatePlain implements Authenticator. The password comparison takes
// the same time whatever the password.
func (s StaticAuthenticator) AuthenticatePlain(_ context.Context, username, password string) (Principal, error) {
	cred, ok := s[username]
	want := sha256.Sum256([]byte(cred.Password))
	got := sha256.Sum256([]byte(password))
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 || !ok {
		return Principal{}, ErrInvalidCredentials
	}
	return cred.Principal, nil
}
