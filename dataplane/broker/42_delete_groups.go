package broker

// DeleteGroups: v0-2.
//
// Handed to the group coordinator, which deletes Empty groups of the
// principal's cluster with their committed offsets (NON_EMPTY_GROUP
// otherwise). Each group needs DELETE (GROUP_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiDeleteGroups = 42

func init() {
	register(api{key: apiDeleteGroups, minVersion: 0, maxVersion: 2, lane: laneGroup, handle: (*Broker).handleDeleteGroups})
}

func (b *Broker) handleDeleteGroups(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DeleteGroupsRequest)
	allowed := *req
	allowed.Groups = nil
	for _, g := range req.Groups {
		if b.allowed(ctx, r, acl.ResourceGroup, g, acl.OpDelete) {
			allowed.Groups = append(allowed.Groups, g)
		}
	}
	if len(allowed.Groups) == len(req.Groups) {
		return b.cfg.Groups.DeleteGroups(ctx, r.cluster(), req), nil
	}
	deleted := map[string]kmsg.DeleteGroupsResponseGroup{}
	if len(allowed.Groups) > 0 {
		for _, g := range b.cfg.Groups.DeleteGroups(ctx, r.cluster(), &allowed).Groups {
			deleted[g.Group] = g
		}
	}
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, name := range req.Groups {
		g, ok := deleted[name]
		if !ok {
			g = kmsg.NewDeleteGroupsResponseGroup()
			g.Group, g.ErrorCode = name, kerr.GroupAuthorizationFailed.Code
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp, nil
}
