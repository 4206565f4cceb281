package broker

// FindCoordinator: v0-4 (batched keys from v4).
//
// This broker coordinates every group and (once they exist) every
// transactional id, so any key of type group (0) or transaction (1) points
// here; other key types are INVALID_REQUEST. A group key needs DESCRIBE on
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
	ep := r.conn.advertised()
	refusal := func(key string) (int16, *string) {
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
			resp.NodeID, resp.Host, resp.Port = b.cfg.NodeID, ep.host, ep.port
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
			c.NodeID, c.Host, c.Port = b.cfg.NodeID, ep.host, ep.port
		} else {
			c.NodeID, c.Port = -1, -1
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp, nil
}
