package groups

// DeleteGroups (key 42), v0-v3: deletes Empty groups with their offsets;
// NON_EMPTY_GROUP for groups with members, GROUP_ID_NOT_FOUND for unknown.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups deletes groups of a cluster.
func (c *Coordinator) DeleteGroups(ctx context.Context, cluster string, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	resp.Version = req.Version
	c.eachGroup(ctx, cluster, req.Groups, func(name string, g *group, code int16) {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group, dg.ErrorCode = name, code
		switch {
		case code != 0:
		case g == nil:
			dg.ErrorCode = kerr.GroupIDNotFound.Code
		default:
			dg.ErrorCode = g.deleteEmpty(ctx)
		}
		resp.Groups = append(resp.Groups, dg)
	})
	return resp
}
