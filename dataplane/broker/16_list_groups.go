package broker

// ListGroups: v0-5 (state filter from v4, type filter from v5).
//
// Handed to the group coordinator: the groups of the principal's cluster
// only, all of type classic; with DESCRIBE on the cluster all of them, else
// those the principal may DESCRIBE.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiListGroups = 16

func init() {
	register(api{key: apiListGroups, minVersion: 0, maxVersion: 5, lane: laneFree, handle: (*Broker).handleListGroups})
}

func (b *Broker) handleListGroups(ctx context.Context, r *request) (kmsg.Response, error) {
	resp := b.cfg.Groups.ListGroups(ctx, r.cluster(), r.body.(*kmsg.ListGroupsRequest))
	if b.clusterAllowed(ctx, r, acl.OpDescribe) {
		return resp, nil
	}
	visible := resp.Groups[:0]
	for _, g := range resp.Groups {
		if b.allowed(ctx, r, acl.ResourceGroup, g.Group, acl.OpDescribe) {
			visible = append(visible, g)
		}
	}
	resp.Groups = visible
	return resp, nil
}
