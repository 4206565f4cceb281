package access

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"

	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

// KeyStore reads API keys by id.
type KeyStore interface {
	LookupAPIKey(ctx context.Context, key string) (resource.APIKey, error)
}

// TokenVerifier checks a bearer token and names its caller. The OAuth
// work plugs in here; without one, bearer tokens are refused.
type TokenVerifier interface {
	VerifyToken(ctx context.Context, token string) (Caller, error)
}

// Authenticator turns an Authorization header (HTTP, or gRPC metadata
// `authorization`) into a caller.
type Authenticator struct {
	keys     KeyStore
	verifier *credential.Verifier
	tokens   TokenVerifier
}

// NewAuthenticator checks API keys of keys with verifier, and bearer
// tokens with tokens (nil: refused).
func NewAuthenticator(keys KeyStore, verifier *credential.Verifier, tokens TokenVerifier) *Authenticator {
	return &Authenticator{keys: keys, verifier: verifier, tokens: tokens}
}

// errBadCredentials is deliberately vague: it does not say whether the key
// exists.
var errBadCredentials = apierr.New(apierr.Unauthenticated, "invalid API key or secret")

// Authenticate checks `Basic base64(key:secret)` with a cloud API key, or
// `Bearer <token>`.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (Caller, error) {
	scheme, value, _ := strings.Cut(strings.TrimSpace(authorization), " ")
	value = strings.TrimSpace(value)
	switch {
	case authorization == "":
		return Caller{}, apierr.New(apierr.Unauthenticated,
			"authentication required: send Authorization: Basic base64(api_key:api_secret) or Bearer <token>")
	case strings.EqualFold(scheme, "basic"):
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return Caller{}, apierr.New(apierr.Unauthenticated, "malformed Basic credentials")
		}
		key, secret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return Caller{}, apierr.New(apierr.Unauthenticated, "malformed Basic credentials: want api_key:api_secret")
		}
		k, err := a.VerifyAPIKey(ctx, key, secret)
		if err != nil {
			return Caller{}, err
		}
		if k.Resource != resource.CloudResource {
			return Caller{}, apierr.New(apierr.Unauthenticated,
				"API key %s is a Kafka API key for cluster %s; the API needs a cloud API key", k.ID, k.Resource)
		}
		return Caller{PrincipalID: k.Owner, Principal: resource.Principal(k.Owner), OrgID: k.OrgID, Credential: k.ID}, nil
	case strings.EqualFold(scheme, "bearer"):
		if a.tokens == nil {
			return Caller{}, apierr.New(apierr.Unauthenticated, "bearer tokens are not accepted by this server")
		}
		c, err := a.tokens.VerifyToken(ctx, value)
		if err != nil {
			var e *apierr.Error
			if errors.As(err, &e) {
				return Caller{}, err
			}
			return Caller{}, apierr.Wrap(err, apierr.Unauthenticated, "invalid bearer token")
		}
		return c, nil
	}
	return Caller{}, apierr.New(apierr.Unauthenticated, "unsupported Authorization scheme %q: use Basic or Bearer", scheme)
}

// VerifyAPIKey returns the key whose id and secret these are, or
// UNAUTHENTICATED. Unknown keys cost as much as wrong secrets.
func (a *Authenticator) VerifyAPIKey(ctx context.Context, key, secret string) (resource.APIKey, error) {
	if !credential.IsKey(key) || len(secret) != credential.SecretLength {
		return resource.APIKey{}, errBadCredentials
	}
	k, err := a.keys.LookupAPIKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = credential.Verify(dummyHash(), secret)
		return resource.APIKey{}, errBadCredentials
	}
	if err != nil {
		return resource.APIKey{}, err
	}
	if !a.verifier.Check(k.ID, secret, k.SecretHash) {
		return resource.APIKey{}, errBadCredentials
	}
	return k, nil
}

var dummyHash = sync.OnceValue(func() string { return credential.Hash(credential.NewSecret(), credential.DefaultParams) })
