package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/oauth"
)

// TokenIssuer is the OAuth 2.0 authorization server behind /oauth2/token
// and the .well-known documents: the control plane.
type TokenIssuer interface {
	// IssueToken runs the client credentials grant; source is the
	// caller's address, for the audit log.
	IssueToken(ctx context.Context, clientID, secret, source string) (oauth.Token, error)
	// JWKS is the JSON Web Key Set of the keys that sign the tokens.
	JWKS(ctx context.Context) ([]byte, error)
	// OAuthIssuer is the iss of the tokens, the base of the URLs below.
	OAuthIssuer() string
}

// Paths of the OAuth endpoints (CONTRACT.md).
const (
	tokenPath     = "/oauth2/token"
	jwksPath      = "/.well-known/jwks.json"
	discoveryPath = "/.well-known/openid-configuration"
)

// maxTokenRequestBytes bounds a token request's form.
const maxTokenRequestBytes = 16 << 10

// tokenResponse is the successful answer of RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// tokenError is an error answer of RFC 6749 §5.2.
type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (g *Gateway) mountOAuth(mux *http.ServeMux) {
	if g.opts.Tokens == nil {
		return
	}
	mux.HandleFunc("POST "+tokenPath, g.serveToken)
	mux.HandleFunc("GET "+jwksPath, g.serveJWKS)
	mux.HandleFunc("GET "+discoveryPath, g.serveDiscovery)
}

// serveToken is the token endpoint of the client credentials grant (RFC
// 6749 §4.4): grant_type=client_credentials, the client authenticated with
// HTTP Basic (client_secret_basic) or client_id and client_secret in the
// form (client_secret_post), not both. Credentials in the query string are
// refused: URLs end up in logs.
func (g *Gateway) serveToken(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	fail := func(status int, code, description string) {
		if status == http.StatusUnauthorized {
			h.Set("WWW-Authenticate", `Basic realm="affluent"`)
		}
		writeJSON(w, status, tokenError{Error: code, Description: description})
	}
	if g.tokenLimiter != nil && !g.tokenLimiter.Allow(remoteHost(r)) {
		fail(http.StatusTooManyRequests, "slow_down", "too many token requests; retry later")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		fail(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	q := r.URL.Query()
	if q.Has("client_secret") || q.Has("client_id") || q.Has("grant_type") {
		fail(http.StatusBadRequest, "invalid_request", "send the parameters in the body, not the URL")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequestBytes)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	form := r.PostForm
	for _, p := range []string{"grant_type", "client_id", "client_secret", "scope"} {
		if len(form[p]) > 1 {
			fail(http.StatusBadRequest, "invalid_request", p+" repeated")
			return
		}
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		fail(http.StatusBadRequest, "unsupported_grant_type", "only grant_type=client_credentials is supported")
		return
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		if secret != "" {
			fail(http.StatusBadRequest, "invalid_request", "authenticate the client one way: HTTP Basic or the form, not both")
			return
		}
		// RFC 6749 §2.3.1: Basic credentials are form-encoded first.
		id, secret = formDecode(user), formDecode(pass)
	}
	if id == "" || secret == "" {
		fail(http.StatusUnauthorized, "invalid_client", "client authentication required: an API key and its secret")
		return
	}
	tok, err := g.opts.Tokens.IssueToken(r.Context(), id, secret, r.RemoteAddr)
	switch {
	case errors.Is(err, oauth.ErrInvalidClient):
		fail(http.StatusUnauthorized, "invalid_client", "invalid API key or secret")
		return
	case err != nil:
		g.log.Error("token endpoint: issuing failed", "request_id", h.Get("X-Request-Id"), "err", err)
		fail(http.StatusInternalServerError, "server_error", "the token could not be issued")
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: tok.AccessToken, TokenType: "Bearer", ExpiresIn: int64(tok.ExpiresIn.Seconds())})
}

func formDecode(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func (g *Gateway) serveJWKS(w http.ResponseWriter, r *http.Request) {
	raw, err := g.opts.Tokens.JWKS(r.Context())
	if err != nil {
		g.log.Error("jwks failed", "err", err)
		http.Error(w, "signing keys unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// Short, so that a rotated key is seen soon.
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(raw)
}

// serveDiscovery is the OpenID Provider Metadata of the token issuer, so
// that clients and brokers find the token endpoint and the keys.
func (g *Gateway) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	iss := strings.TrimSuffix(g.opts.Tokens.OAuthIssuer(), "/")
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + jwksPath,
		"token_endpoint":                        iss + tokenPath,
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "org_id", "client_id", "cluster"},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// tokenRequestLimits are the token endpoint's default rate per caller
// address: issuing costs an argon2id check, which a flood must not buy.
const (
	tokenRequestsPerSecond = 20
	tokenRequestBurst      = 40
)

func newTokenLimiter(perSecond float64, burst int) *access.Limiter {
	if perSecond < 0 {
		return nil
	}
	return access.NewLimiter(perSecond, burst)
}
