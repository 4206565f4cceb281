package broker

// LeaveGroup: v0-5 (batches of members, static members, from v3).
//
// Handed to the group coordinator.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiLeaveGroup = 13

func init() {
	register(api{key: apiLeaveGroup, minVersion: 0, maxVersion: 5, lane: laneGroup, handle: (*Broker).handleLeaveGroup})
}

func (b *Broker) handleLeaveGroup(ctx context.Context, r *request) (kmsg.Response, error) {
	return b.cfg.Groups.LeaveGroup(ctx, r.cluster(), r.body.(*kmsg.LeaveGroupRequest)), nil
}
