package broker

// SyncGroup: v0-5.
//
// Handed to the group coordinator: the leader hands in the assignment, every
// member waits for its own. Like JoinGroup it may wait a rebalance out.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiSyncGroup = 14

func init() {
	register(api{key: apiSyncGroup, minVersion: 0, maxVersion: 5, lane: laneGroup, handle: (*Broker).handleSyncGroup})
}

func (b *Broker) handleSyncGroup(ctx context.Context, r *request) (kmsg.Response, error) {
	return b.cfg.Groups.SyncGroup(ctx, r.cluster(), r.body.(*kmsg.SyncGroupRequest)), nil
}
