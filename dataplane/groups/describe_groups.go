package groups

// DescribeGroups (key 15), v0-v6: state, protocol and members of each
// group. An unknown group, or a KIP-848 consumer group, is described as
// Dead without error, as Kafka does before v6. Authorized operations (v3+)
// are the broker's to fill in.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups describes groups of a cluster.
func (c *Coordinator) DescribeGroups(ctx context.Context, cluster string, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	resp.Version = req.Version
	c.eachGroup(ctx, cluster, req.Groups, func(name string, g *group, code int16) {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group, dg.State, dg.ErrorCode = name, stateDead.String(), code
		if g != nil {
			g.describe(&dg)
		}
		resp.Groups = append(resp.Groups, dg)
	})
	return resp
}

// eachGroup answers a request that names groups: answer is called for each
// name, in order, with the group (nil when there is none) or with the code
// that refuses it: INVALID_GROUP_ID, NOT_COORDINATOR, or why the cluster's
// groups could not be loaded.
func (c *Coordinator) eachGroup(ctx context.Context, cluster string, names []string, answer func(name string, g *group, code int16)) {
	open := c.enter()
	if open {
		defer c.leave()
	}
	var cl *clusterGroups
	code := kerr.NotCoordinator.Code
	if open && len(names) > 0 {
		cl, code = c.loadedCluster(ctx, cluster)
	}
	for _, name := range names {
		switch {
		case name == "":
			answer(name, nil, kerr.InvalidGroupID.Code)
		case code != 0:
			answer(name, nil, code)
		case !c.coordinates(cluster, name):
			answer(name, nil, kerr.NotCoordinator.Code)
		default:
			answer(name, cl.group(c, name), 0)
		}
	}
}

func (g *group) describe(dg *kmsg.DescribeGroupsResponseGroup) {
	g.mu.Lock()
	defer g.unlock()
	if g.consumer != nil {
		// Kafka describes a consumer group as a group that does not
		// exist: Dead, without error before v6 (ConsumerGroupDescribe
		// is the API for it).
		return
	}
	dg.State = g.state.String()
	dg.ProtocolType = g.protocolType
	if g.state == stateDead {
		dg.ProtocolType = ""
		return
	}
	// Metadata and assignments are shown only when Stable, as Kafka does.
	stable := g.state == stateStable
	if stable {
		dg.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		if m.instanceID != "" {
			dm.InstanceID = kmsg.StringPtr(m.instanceID)
		}
		dm.ClientID, dm.ClientHost = m.clientID, m.clientHost
		if stable {
			dm.ProtocolMetadata = m.metadataFor(g.protocol)
			dm.MemberAssignment = m.assignment
		}
		dg.Members = append(dg.Members, dm)
	}
}
