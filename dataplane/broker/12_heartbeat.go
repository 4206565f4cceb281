package broker

// Heartbeat: v0-4.
//
// Handed to the group coordinator, which keeps the member's session alive
// and answers REBALANCE_IN_PROGRESS when it must rejoin.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiHeartbeat = 12

func init() {
	register(api{key: apiHeartbeat, minVersion: 0, maxVersion: 4, lane: laneGroup, handle: (*Broker).handleHeartbeat})
}

func (b *Broker) handleHeartbeat(ctx context.Context, r *request) (kmsg.Response, error) {
	return b.cfg.Groups.Heartbeat(ctx, r.cluster(), r.body.(*kmsg.HeartbeatRequest)), nil
}
