package broker

// SyncGroup: v0-5.
//
// Handed to the group coordinator: the leader hands in the assignment, every
// member waits for its own. Like JoinGroup it may wait a rebalance out.
// Needs READ on the group (GROUP_AUTHORIZATION_FAILED).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiSyncGroup = 14

func init() {
	register(api{key: apiSyncGroup, minVersion: 0, maxVersion: 5, lane: laneGroup, handle: (*Broker).handleSyncGroup})
}

func (b *Broker) handleSyncGroup(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.SyncGroupRequest)
	if !b.allowed(ctx, r, acl.ResourceGroup, req.Group, acl.OpRead) {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil
	}
	// A follower's sync waits for the leader's assignment: not work.
	began := time.Now()
	resp := b.cfg.Groups.SyncGroup(ctx, r.cluster(), req)
	r.idle += time.Since(began)
	return resp, nil
}
