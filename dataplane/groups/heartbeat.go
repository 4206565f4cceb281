package groups

// Heartbeat (key 12), v0-v4: keeps a member's session alive and tells it
// when a rebalance needs it (REBALANCE_IN_PROGRESS), also as a classic
// member of a consumer group (see consumer_migration.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat refreshes a member's session.
func (c *Coordinator) Heartbeat(ctx context.Context, cluster string, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.Version = req.Version
	if !c.coordinates(cluster, req.Group) || !c.enter() {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	defer c.leave()
	resp.ErrorCode = c.heartbeat(ctx, cluster, req)
	return resp
}

func (c *Coordinator) heartbeat(ctx context.Context, cluster string, req *kmsg.HeartbeatRequest) int16 {
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	cl, code := c.loadedCluster(ctx, cluster)
	if code != 0 {
		return code
	}
	g := cl.group(c, req.Group)
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	g.mu.Lock()
	defer g.unlock()
	if g.unavailable() {
		return kerr.CoordinatorNotAvailable.Code
	}
	g.activate()
	if g.consumer != nil {
		return g.classicHeartbeat(req)
	}
	if code := g.validateCurrentMember(req.MemberID, derefString(req.InstanceID)); code != 0 {
		return code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	m := g.members[req.MemberID]
	switch g.state {
	case stateCompletingRebalance, stateStable:
		// Members may heartbeat between their JoinGroup and SyncGroup.
		g.restartSession(m)
		return 0
	case statePreparingRebalance:
		g.restartSession(m)
		return kerr.RebalanceInProgress.Code
	}
	return kerr.UnknownMemberID.Code
}
