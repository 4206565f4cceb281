package broker

// OffsetFetch: v0-9 (many groups per request from v8).
//
// Handed to the group coordinator: committed offsets of the principal's
// cluster's groups, -1 where nothing is committed, all of a group's offsets
// for null topics (v2+). It runs in order with the connection's commits.
// v10 (topics by id) is not offered yet.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiOffsetFetch = 9

func init() {
	register(api{key: apiOffsetFetch, minVersion: 0, maxVersion: 9, lane: laneGroup, handle: (*Broker).handleOffsetFetch})
}

func (b *Broker) handleOffsetFetch(ctx context.Context, r *request) (kmsg.Response, error) {
	return b.cfg.Groups.OffsetFetch(ctx, r.cluster(), r.body.(*kmsg.OffsetFetchRequest)), nil
}
