package broker

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"time"

	"github.com/affluent-io/affluent/dataplane/sasl"
)

// Principal is who a connection authenticated as.
type Principal struct {
	// Name is the Kafka principal, e.g. "User:sa-123".
	Name string
	// Cluster is the cluster (lkc-…) the credential belongs to. It scopes
	// everything the connection does.
	Cluster string
	// Identity, when set, is who the credential names beyond the
	// principal, for logs and audit: a certificate's CN for a certificate
	// pool, a token's subject for an identity pool. Never a secret.
	Identity string
	// Credential names what the authentication rested on (an API key id,
	// a pool id), for the check of open sessions (Broker.CheckSessions);
	// opaque to the broker. Never a secret.
	Credential string
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

// TokenAuthenticator checks SASL/OAUTHBEARER bearer tokens. The control
// plane's token verifier implements it in production.
type TokenAuthenticator interface {
	// AuthenticateToken checks a token presented with SASL extensions
	// (logicalCluster names the cluster) and returns the principal and
	// when the token expires, which ends the session (KIP-368). Tokens it
	// does not accept return an error wrapping ErrInvalidCredentials whose
	// text says why (expired, wrong audience…) and holds no token.
	AuthenticateToken(ctx context.Context, token string, extensions map[string]string) (Principal, time.Time, error)
}

// CertificateAuthenticator maps the TLS client certificate of an mTLS
// listener's connection to a principal. The chain is as the client sent
// it, leaf first, not yet verified: verifying it against the trusted CAs is
// the authenticator's job, since which CAs are trusted depends on the
// tenant (certificate authorities are registered per organization).
type CertificateAuthenticator interface {
	AuthenticateCertificate(ctx context.Context, chain []*x509.Certificate) (Principal, error)
}

// ScramStore holds the SCRAM credentials of each cluster's users, keyed by
// (cluster, user, mechanism). *credstore.Store implements it.
type ScramStore interface {
	// LookupScram returns a user's credential; found is false if none.
	LookupScram(ctx context.Context, cluster, user string, m sasl.ScramMechanism) (cred sasl.ScramCredential, found bool, err error)
	// ScramCredentials describes (mechanism, iterations) the credentials
	// of users, of every user when users is nil.
	ScramCredentials(ctx context.Context, cluster string, users []string) (map[string][]sasl.ScramCredential, error)
	// AlterScram applies upserts and deletions in one transaction.
	AlterScram(ctx context.Context, cluster string, upserts map[string][]sasl.ScramCredential, deletions map[string][]sasl.ScramMechanism) error
}

// AuthFailure describes one failed authentication, for the audit log. It
// never holds a secret: no password, token or proof.
type AuthFailure struct {
	Time     time.Time
	Listener string
	Remote   string
	// Mechanism is the SASL mechanism, or MechanismMTLS.
	Mechanism string
	// Identity is who the client claimed to be when the credential names
	// someone without being secret: an API key id, a SCRAM user, a
	// certificate subject. Empty for tokens, whose claims are not to be
	// trusted when they fail.
	Identity string
	// Cluster is the cluster the client asked for, when it named one.
	Cluster string
	// Reason says why, for operators (never told to the client).
	Reason string
}

// MechanismMTLS names authentication by TLS client certificate in logs,
// metrics and AuthFailure.
const MechanismMTLS = "MTLS"

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
