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
	open := c.enter()
	if open {
		defer c.leave()
	}
	var cl *clusterGroups
	code := kerr.NotCoordinator.Code
	if open && len(req.Groups) > 0 {
		cl, code = c.loadedCluster(ctx, cluster)
	}
	for _, name := range req.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = name
		switch {
		case name == "":
			dg.ErrorCode = kerr.InvalidGroupID.Code
		case code != 0:
			dg.ErrorCode = code
		case !c.coordinates(cluster, name):
			dg.ErrorCode = kerr.NotCoordinator.Code
		default:
			if g := cl.group(c, name, false); g == nil {
				dg.ErrorCode = kerr.GroupIDNotFound.Code
			} else {
				dg.ErrorCode = g.deleteEmpty(ctx)
			}
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}
