package broker

// ApiVersions: v0-4.
//
// Advertises exactly the API version ranges the handler files register. A
// version above ours is answered as Kafka does: a v0 response with
// UNSUPPORTED_VERSION and our ranges, so the client can retry with one we
// know. From v3 the client software name and version must match Kafka's
// pattern, else INVALID_REQUEST. No features are advertised (KIP-848
// clients look for ConsumerGroupHeartbeat, not for a feature). Allowed before authentication.

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiApiVersions = 18

func init() {
	register(api{key: apiApiVersions, minVersion: 0, maxVersion: 4, preAuth: true, handle: (*Broker).handleApiVersions})
}

// apiVersionKeys is built once, after every init has registered.
var apiVersionKeys = sync.OnceValue(advertisedAPIs)

func (b *Broker) handleApiVersions(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if r.apiVersionsFallback {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		resp.ApiKeys = apiVersionKeys()
		return resp, nil
	}
	if req.Version >= 3 && (!validSoftwareText(req.ClientSoftwareName) || !validSoftwareText(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	resp.ApiKeys = apiVersionKeys()
	return resp, nil
}

// validSoftwareText matches Kafka's [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
func validSoftwareText(s string) bool {
	alnum := func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
