package broker

// DeleteGroups: v0-2.
//
// Handed to the group coordinator, which deletes Empty groups of the
// principal's cluster with their committed offsets (NON_EMPTY_GROUP
// otherwise).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiDeleteGroups = 42

func init() {
	register(api{key: apiDeleteGroups, minVersion: 0, maxVersion: 2, lane: laneGroup, handle: (*Broker).handleDeleteGroups})
}

func (b *Broker) handleDeleteGroups(ctx context.Context, r *request) (kmsg.Response, error) {
	return b.cfg.Groups.DeleteGroups(ctx, r.cluster(), r.body.(*kmsg.DeleteGroupsRequest)), nil
}
