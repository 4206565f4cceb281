package groups

// SyncGroup (key 14), v0-v5: the leader's assignment is saved, then handed
// to every member; followers wait for it. v5 checks the protocol type and
// name and returns them. A classic member of a consumer group is answered
// its assignment at once (see consumer_migration.go).

import (
	"bytes"
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup completes a member's part of a rebalance. Followers block until
// the leader's assignment is saved (or ctx ends, or a new rebalance starts).
func (c *Coordinator) SyncGroup(ctx context.Context, cluster string, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.Version = req.Version
	var out syncOutcome
	if !c.coordinates(cluster, req.Group) {
		out = syncOutcome{code: kerr.NotCoordinator.Code}
	} else if c.enter() {
		out = c.syncGroup(ctx, cluster, req)
		c.leave()
	} else {
		out = syncOutcome{code: kerr.NotCoordinator.Code}
	}
	resp.ErrorCode = out.code
	if out.code == 0 {
		resp.ProtocolType = kmsg.StringPtr(out.protocolType)
		resp.Protocol = kmsg.StringPtr(out.protocol)
		resp.MemberAssignment = out.assignment
	}
	return resp
}

func (c *Coordinator) syncGroup(ctx context.Context, cluster string, req *kmsg.SyncGroupRequest) syncOutcome {
	if req.Group == "" {
		return syncOutcome{code: kerr.InvalidGroupID.Code}
	}
	cl, code := c.loadedCluster(ctx, cluster)
	if code != 0 {
		return syncOutcome{code: code}
	}
	g := cl.group(c, req.Group)
	if g == nil {
		return syncOutcome{code: kerr.UnknownMemberID.Code}
	}
	instanceID := derefString(req.InstanceID)

	g.mu.Lock()
	out, wait, leaderSave := g.sync(req, instanceID)
	g.unlock()

	if leaderSave != nil {
		g.saveAssignment(leaderSave)
	}
	if wait == nil {
		return out
	}
	select {
	case out := <-wait:
		return out
	case <-c.done:
		return syncOutcome{code: kerr.NotCoordinator.Code}
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.unlock()
	select {
	case out := <-wait:
		return out
	default:
	}
	if m := g.members[req.MemberID]; m != nil && m.syncWaiter == wait {
		m.syncWaiter = nil
	}
	return syncOutcome{code: kerr.RebalanceInProgress.Code}
}

// assignmentSave is the leader's assignment of one generation, to be saved
// before the group becomes Stable.
type assignmentSave struct {
	generation  int32
	assignments map[string][]byte
	record      GroupRecord
	seq         uint64
}

// sync runs a SyncGroup under g.mu (Kafka's doSyncGroup).
func (g *group) sync(req *kmsg.SyncGroupRequest, instanceID string) (syncOutcome, chan syncOutcome, *assignmentSave) {
	fail := func(code int16) (syncOutcome, chan syncOutcome, *assignmentSave) {
		return syncOutcome{code: code}, nil, nil
	}
	if g.unavailable() {
		return fail(kerr.CoordinatorNotAvailable.Code)
	}
	g.activate()
	if g.consumer != nil {
		return g.classicSync(req, instanceID), nil, nil
	}
	if current, ok := g.staticMembers[instanceID]; instanceID != "" && ok && current != req.MemberID {
		return fail(kerr.FencedInstanceID.Code)
	}
	m := g.members[req.MemberID]
	switch {
	case m == nil:
		return fail(kerr.UnknownMemberID.Code)
	case req.Generation != g.generation:
		return fail(kerr.IllegalGeneration.Code)
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		return fail(kerr.InconsistentGroupProtocol.Code)
	}

	switch g.state {
	case stateEmpty:
		return fail(kerr.UnknownMemberID.Code)
	case statePreparingRebalance:
		return fail(kerr.RebalanceInProgress.Code)
	case stateStable:
		delete(g.pendingSync, m.id)
		g.maybeCompletePendingSync()
		g.restartSession(m)
		return syncOutcome{protocolType: g.protocolType, protocol: g.protocol, assignment: m.assignment}, nil, nil
	case stateCompletingRebalance:
		w := make(chan syncOutcome, 1)
		g.setSyncWaiter(m, w)
		delete(g.pendingSync, m.id)
		g.maybeCompletePendingSync()
		g.restartSession(m)
		if m.id != g.leader {
			return syncOutcome{}, w, nil
		}
		// Members the leader left out get an empty assignment; ids that
		// are not members are ignored, as Kafka does.
		assignments := make(map[string][]byte, len(g.members))
		for id := range g.members {
			assignments[id] = []byte{}
		}
		for _, a := range req.GroupAssignment {
			if _, ok := assignments[a.MemberID]; ok {
				assignments[a.MemberID] = bytes.Clone(a.MemberAssignment)
			}
		}
		rec, seq := g.snapshot(assignments)
		return syncOutcome{}, w, &assignmentSave{generation: g.generation, assignments: assignments, record: rec, seq: seq}
	}
	return fail(kerr.UnknownMemberID.Code)
}

// saveAssignment saves the leader's assignment, then, if the group is still
// in that generation's CompletingRebalance, makes it Stable and answers
// every waiting member. A failed save answers them with an error and
// rebalances, as Kafka does. The save does not depend on the leader's
// connection: once made, the assignment stands.
func (g *group) saveAssignment(a *assignmentSave) {
	ctx, cancel := g.c.storeContext()
	defer cancel()
	err := g.save(ctx, a.record, a.seq)

	g.mu.Lock()
	defer g.unlock()
	if g.state != stateCompletingRebalance || g.generation != a.generation {
		return // another rebalance started meanwhile
	}
	if err != nil {
		g.log.Warn("save assignment", "generation", a.generation, "err", err)
		g.resetAssignments(kerr.CoordinatorNotAvailable.Code)
		g.maybePrepareRebalance("could not save the assignment")
		return
	}
	g.propagateAssignments(a.assignments)
	g.transition(stateStable)
	g.log.Info("group stable", "generation", g.generation, "members", len(g.members))
}
