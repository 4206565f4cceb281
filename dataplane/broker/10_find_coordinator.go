package broker

// FindCoordinator: v0-4 (batched keys from v4).
//
// A key of type group (0) or transaction (1) points to the broker that
// placement names for it among the live brokers (routing.go; this broker
// alone without Config.Membership), which answers the others'
// requests for it NOT_COORDINATOR; other key types are INVALID_REQUEST. A group key needs DESCRIBE on
// the group (GROUP_AUTHORIZATION_FAILED), a transaction key DESCRIBE on the
// transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiFindCoordinator = 10

func init() {
	register(api{key: apiFindCoordinator, minVersion: 0, maxVersion: 4, handle: (*Broker).handleFindCoordinator})
}

// Coordinator key types.
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

func (b *Broker) handleFindCoordinator(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	view := b.view()
	coordinator := func(key string) (int32, string, int32) {
		c, _ := b.coordinatorOf(view, r.cluster(), req.CoordinatorType, key)
		host, port := b.endpointOf(r, c)
		return c.NodeID, host, port
	}
	refusal := func(key string) (int16, *string) {
		if _, ok := b.coordinatorOf(view, r.cluster(), req.CoordinatorType, key); !ok {
			// A lapsed broker that knows of no live one.
			return kerr.CoordinatorNotAvailable.Code, nil
		}
		switch req.CoordinatorType {
		case coordinatorGroup:
			if !b.allowed(ctx, r, acl.ResourceGroup, key, acl.OpDescribe) {
				return kerr.GroupAuthorizationFailed.Code, nil
			}
		case coordinatorTransaction:
			if !b.allowed(ctx, r, acl.ResourceTransactionalID, key, acl.OpDescribe) {
				return kerr.TransactionalIDAuthorizationFailed.Code, nil
			}
		default:
			return kerr.InvalidRequest.Code, errMessage("unknown coordinator key type")
		}
		return 0, nil
	}
	if req.Version < 4 {
		code, msg := refusal(req.CoordinatorKey)
		resp.ErrorCode, resp.ErrorMessage = code, msg
		if code == 0 {
			resp.NodeID, resp.Host, resp.Port = coordinator(req.CoordinatorKey)
		} else {
			resp.NodeID, resp.Port = -1, -1
		}
		return resp, nil
	}
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		code, msg := refusal(key)
		c.Key, c.ErrorCode, c.ErrorMessage = key, code, msg
		if code == 0 {
			c.NodeID, c.Host, c.Port = coordinator(key)
		} else {
			c.NodeID, c.Port = -1, -1
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp, nil
}
