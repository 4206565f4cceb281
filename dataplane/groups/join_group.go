package groups

// JoinGroup (key 11), v0-v9: dynamic members with the KIP-394
// MEMBER_ID_REQUIRED round trip from v4, static members (KIP-345) from v5,
// SkipAssignment for a static leader rejoining a Stable group from v9. A
// consumer group with members answers the join itself, taking the member in
// as a classic member (see consumer_migration.go).

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup joins a member to a group. It blocks until the rebalance's join
// phase completes, as Kafka does. When ctx ends first (the client is gone) a
// dynamic member's join is withdrawn and the response should not be sent.
func (c *Coordinator) JoinGroup(ctx context.Context, cluster string, client ClientInfo, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Version = req.Version
	var out joinOutcome
	if !c.coordinates(cluster, req.Group) {
		out = joinError(req.MemberID, kerr.NotCoordinator.Code)
	} else if c.enter() {
		out = c.joinGroup(ctx, cluster, client, req)
		c.leave()
	} else {
		out = joinError(req.MemberID, kerr.NotCoordinator.Code)
	}
	resp.ErrorCode = out.code
	resp.Generation = out.generation
	if out.code == 0 {
		resp.ProtocolType = kmsg.StringPtr(out.protocolType)
	}
	if out.hasProtocol {
		resp.Protocol = kmsg.StringPtr(out.protocol)
	}
	resp.LeaderID = out.leader
	resp.SkipAssignment = out.skipAssignment && req.Version >= 9
	resp.MemberID = out.memberID
	resp.Members = out.members
	return resp
}

// joinRequest is a JoinGroup with its inputs checked and normalized.
type joinRequest struct {
	version          int16
	memberID         string
	instanceID       string
	client           ClientInfo
	protocolType     string
	protocols        []protocolMetadata
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	reason           string
}

func (c *Coordinator) joinGroup(ctx context.Context, cluster string, client ClientInfo, req *kmsg.JoinGroupRequest) joinOutcome {
	if req.Group == "" {
		return joinError(req.MemberID, kerr.InvalidGroupID.Code)
	}
	session := msDuration(req.SessionTimeoutMillis)
	if session < c.opts.MinSessionTimeout || session > c.opts.MaxSessionTimeout {
		return joinError(req.MemberID, kerr.InvalidSessionTimeout.Code)
	}
	// v0 has no rebalance timeout: Kafka uses the session timeout.
	rebalance := msDuration(req.RebalanceTimeoutMillis)
	if req.Version == 0 || rebalance <= 0 {
		rebalance = session
	}
	jr := joinRequest{
		version:          req.Version,
		memberID:         req.MemberID,
		instanceID:       derefString(req.InstanceID),
		client:           client,
		protocolType:     req.ProtocolType,
		protocols:        copyProtocols(req.Protocols),
		sessionTimeout:   session,
		rebalanceTimeout: rebalance,
		reason:           derefString(req.Reason),
	}

	cl, code := c.loadedCluster(ctx, cluster)
	if code != 0 {
		return joinError(req.MemberID, code)
	}
	// The group is created by a member without id; a member id for a group
	// that does not exist is stale.
	var g *group
	if jr.memberID == "" {
		if g, code = cl.groupOrCreate(c, req.Group); code != 0 {
			return joinError(req.MemberID, code)
		}
	} else if g = cl.group(c, req.Group); g == nil {
		return joinError(req.MemberID, kerr.UnknownMemberID.Code)
	}

	g.mu.Lock()
	out, wait, staticSave := g.join(jr)
	if g.state == statePreparingRebalance {
		g.tryCompleteJoin()
	}
	g.unlock()

	if staticSave != nil {
		return g.finishStaticReplace(staticSave)
	}
	if wait == nil {
		return out
	}
	return g.awaitJoin(ctx, wait)
}

// join runs a JoinGroup under g.mu. It returns either an immediate outcome,
// a channel to wait on, or a static member replacement to save first.
func (g *group) join(jr joinRequest) (joinOutcome, chan joinOutcome, *staticReplacement) {
	if jr.reason != "" {
		g.log.Info("member joining", "member", jr.memberID, "client_reason", jr.reason)
	}
	if g.unavailable() {
		// Deleted under us: the client retries and finds a new group.
		return joinError(jr.memberID, kerr.CoordinatorNotAvailable.Code), nil, nil
	}
	g.activate()
	if g.consumer != nil {
		// An Empty consumer group goes back to classic (Kafka's offline
		// downgrade); one with members answers the join itself.
		if !g.consumer.isEmpty() {
			defer g.saveIfDirty()
			return g.classicJoin(jr), nil, nil
		}
		g.convertToClassic()
	}
	if !g.acceptsJoiningMember(jr.memberID) {
		if m := g.members[jr.memberID]; m != nil {
			g.removeMemberAndUpdate(m)
		}
		g.removePendingMember(jr.memberID)
		return joinError("", kerr.GroupMaxSizeReached.Code), nil, nil
	}
	if !g.supportsProtocols(jr.protocolType, jr.protocols) {
		return joinError(jr.memberID, kerr.InconsistentGroupProtocol.Code), nil, nil
	}
	if jr.memberID == "" {
		return g.joinNewMember(jr)
	}
	return g.joinKnownMember(jr)
}

// acceptsJoiningMember applies group.max.size as Kafka does: by members
// awaiting join while rebalancing, by group size otherwise.
func (g *group) acceptsJoiningMember(memberID string) bool {
	limit := g.c.opts.MaxGroupSize
	if limit <= 0 {
		return true
	}
	m := g.members[memberID]
	switch g.state {
	case statePreparingRebalance:
		return (m != nil && m.joinWaiter != nil) || g.awaitingJoin < limit
	case stateCompletingRebalance, stateStable:
		return m != nil || len(g.members) < limit
	}
	return true
}

func (g *group) joinNewMember(jr joinRequest) (joinOutcome, chan joinOutcome, *staticReplacement) {
	newID := jr.client.ClientID + "-" + uuid.NewString()
	if jr.instanceID != "" {
		return g.joinStaticMember(jr, newID)
	}
	if jr.version >= 4 {
		// KIP-394: hand out the id first, so that a client that times out
		// and retries does not leave a defunct member behind.
		g.addPendingMember(newID, jr.sessionTimeout)
		return joinError(newID, kerr.MemberIDRequired.Code), nil, nil
	}
	return joinOutcome{}, g.addMemberAndRebalance(g.newMember(newID, jr)), nil
}

func (g *group) newMember(id string, jr joinRequest) *member {
	return &member{
		id:               id,
		instanceID:       jr.instanceID,
		clientID:         jr.client.ClientID,
		clientHost:       jr.client.ClientHost,
		protocolType:     jr.protocolType,
		protocols:        jr.protocols,
		sessionTimeout:   jr.sessionTimeout,
		rebalanceTimeout: jr.rebalanceTimeout,
	}
}

// staticReplacement is a static member that rejoined a Stable group without
// changing the group's protocol: it takes its new member id without a
// rebalance once that is saved, and is reverted if the save fails.
type staticReplacement struct {
	instanceID, oldID, newID string
	oldProtocols             []protocolMetadata
	oldSessionTimeout        time.Duration
	oldRebalanceTimeout      time.Duration
	record                   GroupRecord
	seq                      uint64
	answer                   joinOutcome
}

func (g *group) joinStaticMember(jr joinRequest, newID string) (joinOutcome, chan joinOutcome, *staticReplacement) {
	oldID, known := g.staticMembers[jr.instanceID]
	if !known {
		return joinOutcome{}, g.addMemberAndRebalance(g.newMember(newID, jr)), nil
	}
	g.log.Info("static member rejoined with a new member id", "instance", jr.instanceID, "old", oldID, "new", newID)
	previousLeader := g.leader
	m := g.replaceStaticMember(jr.instanceID, oldID, newID)
	m.clientID, m.clientHost = jr.client.ClientID, jr.client.ClientHost
	oldProtocols, oldSession, oldRebalance := m.protocols, m.sessionTimeout, m.rebalanceTimeout

	switch g.state {
	case stateStable:
		g.updateMember(m, jr.protocols, jr.sessionTimeout, jr.rebalanceTimeout, nil)
		g.restartSession(m)
		if g.selectProtocol() != g.protocol {
			w := make(chan joinOutcome, 1)
			g.setJoinWaiter(m, w)
			g.maybePrepareRebalance("static member " + newID + " changed the group's protocol")
			return joinOutcome{}, w, nil
		}
		rec, seq := g.snapshot(nil)
		answer := g.currentJoinOutcome(newID, false)
		if jr.version >= 9 {
			// The leader learns it leads (to keep watching metadata) but
			// must not assign: the group stays Stable.
			if g.leader == newID {
				answer.members = g.joinedMembersMetadata()
				answer.skipAssignment = true
			}
		} else {
			// Before v9 the old leader id is returned, so a restarted
			// leader does not compute an assignment nobody would receive.
			answer.leader = previousLeader
		}
		return joinOutcome{}, nil, &staticReplacement{
			instanceID: jr.instanceID, oldID: oldID, newID: newID,
			oldProtocols: oldProtocols, oldSessionTimeout: oldSession, oldRebalanceTimeout: oldRebalance,
			record: rec, seq: seq, answer: answer,
		}
	case stateCompletingRebalance:
		// The leader may be assigning to the old member id: rebalance so
		// that the new id gets an assignment.
		w := make(chan joinOutcome, 1)
		g.updateMember(m, jr.protocols, jr.sessionTimeout, jr.rebalanceTimeout, w)
		g.restartSession(m)
		g.prepareRebalance("static member " + newID + " rejoined during CompletingRebalance")
		return joinOutcome{}, w, nil
	case statePreparingRebalance:
		w := make(chan joinOutcome, 1)
		g.updateMember(m, jr.protocols, jr.sessionTimeout, jr.rebalanceTimeout, w)
		g.restartSession(m)
		return joinOutcome{}, w, nil
	}
	// A static member in an Empty group cannot exist.
	return joinError(newID, kerr.UnknownMemberID.Code), nil, nil
}

// finishStaticReplace saves a static member's new id, then answers it; on a
// failed save the old member id is put back, as Kafka does.
func (g *group) finishStaticReplace(r *staticReplacement) joinOutcome {
	ctx, cancel := g.c.storeContext()
	defer cancel()
	err := g.save(ctx, r.record, r.seq)
	if err == nil {
		return r.answer
	}
	if errors.Is(err, ErrGroupFenced) {
		return joinError(r.newID, kerr.NotCoordinator.Code) // the group was let go of
	}
	g.log.Warn("save static member replacement, reverting it", "instance", r.instanceID, "err", err)
	g.mu.Lock()
	defer g.unlock()
	if g.state == stateStable && g.staticMembers[r.instanceID] == r.newID {
		m := g.replaceStaticMember(r.instanceID, r.newID, r.oldID)
		g.updateMember(m, r.oldProtocols, r.oldSessionTimeout, r.oldRebalanceTimeout, nil)
		g.restartSession(m)
	}
	return joinError(r.newID, kerr.CoordinatorNotAvailable.Code)
}

func (g *group) joinKnownMember(jr joinRequest) (joinOutcome, chan joinOutcome, *staticReplacement) {
	if jr.instanceID == "" && g.pendingMembers[jr.memberID] != nil {
		// The second half of the MEMBER_ID_REQUIRED round trip.
		return joinOutcome{}, g.addMemberAndRebalance(g.newMember(jr.memberID, jr)), nil
	}
	if code := g.validateCurrentMember(jr.memberID, jr.instanceID); code != 0 {
		return joinError(jr.memberID, code), nil, nil
	}
	m := g.members[jr.memberID]
	g.restartSession(m)
	rejoin := func(reason string) (joinOutcome, chan joinOutcome, *staticReplacement) {
		w := make(chan joinOutcome, 1)
		g.updateMember(m, jr.protocols, jr.sessionTimeout, jr.rebalanceTimeout, w)
		g.maybePrepareRebalance(reason)
		return joinOutcome{}, w, nil
	}
	switch g.state {
	case statePreparingRebalance:
		return rejoin("member " + m.id + " rejoined")
	case stateCompletingRebalance:
		if m.matches(jr.protocols) {
			// Probably a retry of a JoinGroup whose response was lost:
			// answer with the current generation.
			return g.currentJoinOutcome(m.id, m.id == g.leader), nil, nil
		}
		return rejoin("member " + m.id + " changed its metadata")
	case stateStable:
		if m.id == g.leader {
			// A leader rejoins to make the group reassign (for example
			// after topic metadata changed).
			return rejoin("leader " + m.id + " rejoined")
		}
		if !m.matches(jr.protocols) {
			return rejoin("member " + m.id + " changed its metadata")
		}
		return g.currentJoinOutcome(m.id, false), nil, nil
	}
	return joinError(jr.memberID, kerr.UnknownMemberID.Code), nil, nil
}

// awaitJoin waits for the join phase to complete, without holding g.mu.
func (g *group) awaitJoin(ctx context.Context, w chan joinOutcome) joinOutcome {
	select {
	case out := <-w:
		return out
	case <-g.c.done:
		return joinError("", kerr.NotCoordinator.Code)
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.unlock()
	select {
	case out := <-w: // answered while we were taking the lock
		return out
	default:
	}
	for _, m := range g.members {
		if m.joinWaiter != w {
			continue
		}
		g.setJoinWaiter(m, nil)
		if m.instanceID == "" && g.state == statePreparingRebalance {
			// The client is gone (Kafka cannot see this while a join is
			// parked): drop it now rather than stall the rebalance for
			// it. A static member keeps its place, as static members do.
			g.log.Info("member's connection closed during join, removing it", "member", m.id)
			g.removeMemberAndUpdate(m)
		}
		break
	}
	return joinError("", kerr.RebalanceInProgress.Code)
}

func msDuration(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
