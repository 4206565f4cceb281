package groups

// ListGroups (key 16), v0-v5: the groups of the caller's cluster, filtered
// by state (v4+) and type (v5+): "classic", or "consumer" for KIP-848 groups.

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// classicGroupType is the KIP-848 group type of groups of the classic protocol.
const classicGroupType = "classic"

// ListGroups lists a cluster's groups.
func (c *Coordinator) ListGroups(ctx context.Context, cluster string, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	resp.Version = req.Version
	if !c.enter() {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	defer c.leave()
	cl, code := c.loadedCluster(ctx, cluster)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}

	// Filters are matched without regard to case, as Kafka does.
	wantState := func(string) bool { return true }
	if req.Version >= 4 && len(req.StatesFilter) > 0 {
		wantState = func(s string) bool {
			return slices.ContainsFunc(req.StatesFilter, func(f string) bool { return strings.EqualFold(f, s) })
		}
	}
	wantType := func(string) bool { return true }
	if req.Version >= 5 && len(req.TypesFilter) > 0 {
		wantType = func(t string) bool {
			return slices.ContainsFunc(req.TypesFilter, func(f string) bool { return strings.EqualFold(f, t) })
		}
	}

	for _, g := range cl.snapshot() {
		g.mu.Lock()
		state, protocolType := g.state, g.protocolType
		stateName, groupType := state.String(), classicGroupType
		if g.consumer != nil {
			stateName, groupType = g.consumer.stateName(), consumerGroupType
		}
		g.unlock()
		if state == stateDead || !wantState(stateName) || !wantType(groupType) || !c.coordinates(cluster, g.name) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group = g.name
		lg.ProtocolType = protocolType
		lg.GroupState = stateName
		lg.GroupType = groupType
		resp.Groups = append(resp.Groups, lg)
	}
	slices.SortFunc(resp.Groups, func(a, b kmsg.ListGroupsResponseGroup) int { return strings.Compare(a.Group, b.Group) })
	return resp
}
