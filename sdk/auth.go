package sdk

import (
	"context"
	"encoding/base64"
	"errors"

	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// staticAuth sends a fixed `authorization` header. It does not insist on
// TLS: WithInsecure is the caller's explicit choice.
type staticAuth struct{ header string }

// basicAuth sends a cloud API key as `authorization: Basic …`.
func basicAuth(key, secret string) credentials.PerRPCCredentials {
	return staticAuth{header: "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"+secret))}
}

func (a staticAuth) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": a.header}, nil
}

func (staticAuth) RequireTransportSecurity() bool { return false }

// tokenAuth sends `authorization: Bearer <token>` from a token source.
type tokenAuth struct{ ts oauth2.TokenSource }

func (a *tokenAuth) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	tok, err := a.ts.Token()
	if err != nil {
		// A refused client is not worth retrying; an unreachable token
		// endpoint is.
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return nil, status.Errorf(codes.Unauthenticated, "get OAuth token: %v", err)
		}
		return nil, status.Errorf(codes.Unavailable, "get OAuth token: %v", err)
	}
	return map[string]string{"authorization": "Bearer " + tok.AccessToken}, nil
}

func (*tokenAuth) RequireTransportSecurity() bool { return false }
