package broker

// ListGroups: v0-5 (state filter from v4, type filter from v5).
//
// Handed to the group coordinator: the groups of the principal's cluster
// only, all of type classic.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiListGroups = 16

func init() {
	register(api{key: apiListGroups, minVersion: 0, maxVersion: 5, lane: laneFree, handle: (*Broker).handleListGroups})
}

func (b *Broker) handleListGroups(ctx context.Context, r *request) (kmsg.Response, error) {
	return b.cfg.Groups.ListGroups(ctx, r.cluster(), r.body.(*kmsg.ListGroupsRequest)), nil
}
