package broker

// Heartbeat: v0-4.
//
// Handed to the group coordinator, which keeps the member's session alive
// and answers REBALANCE_IN_PROGRESS when it must rejoin. Needs READ on the
// group (GROUP_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiHeartbeat = 12

func init() {
	register(api{key: apiHeartbeat, minVersion: 0, maxVersion: 4, lane: laneGroup, handle: (*Broker).handleHeartbeat})
}

func (b *Broker) handleHeartbeat(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.HeartbeatRequest)
	if !b.allowed(ctx, r, acl.ResourceGroup, req.Group, acl.OpRead) {
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil
	}
	return b.cfg.Groups.Heartbeat(ctx, r.cluster(), req), nil
}
