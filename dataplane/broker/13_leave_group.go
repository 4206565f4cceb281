package broker

// LeaveGroup: v0-5 (batches of members, static members, from v3).
//
// Handed to the group coordinator. Needs READ on the group
// (GROUP_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiLeaveGroup = 13

func init() {
	register(api{key: apiLeaveGroup, minVersion: 0, maxVersion: 5, lane: laneGroup, handle: (*Broker).handleLeaveGroup})
}

func (b *Broker) handleLeaveGroup(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.LeaveGroupRequest)
	if !b.allowed(ctx, r, acl.ResourceGroup, req.Group, acl.OpRead) {
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil
	}
	return b.cfg.Groups.LeaveGroup(ctx, r.cluster(), req), nil
}
