package broker

// JoinGroup: v0-9.
//
// Handed to the group coordinator with the client id and host of the
// connection. It blocks until the rebalance's join phase completes (up to
// the rebalance timeout), which holds back only this connection's other
// group requests (laneGroup). When the connection closes first, the
// coordinator withdraws the join and no response is sent. Needs READ on the
// group (GROUP_AUTHORIZATION_FAILED).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiJoinGroup = 11

func init() {
	register(api{key: apiJoinGroup, minVersion: 0, maxVersion: 9, lane: laneGroup, handle: (*Broker).handleJoinGroup})
}

func (b *Broker) handleJoinGroup(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.JoinGroupRequest)
	if !b.allowed(ctx, r, acl.ResourceGroup, req.Group, acl.OpRead) {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID = kerr.GroupAuthorizationFailed.Code, req.MemberID
		return resp, nil
	}
	// A join waits for the rest of the group (the rebalance): waiting is
	// not work, and does not count against request_percentage.
	began := time.Now()
	resp := b.cfg.Groups.JoinGroup(ctx, r.cluster(), clientInfo(r), req)
	r.idle += time.Since(began)
	if err := ctx.Err(); err != nil {
		return nil, err // the connection is closing; the join was withdrawn
	}
	return resp, nil
}
