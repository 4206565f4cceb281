package groups

// Online migration between classic groups and consumer groups, as Kafka's
// group.consumer.migration.policy=bidirectional does, so that consumers can
// be upgraded to the consumer protocol (or back) one at a time.
//
// Upgrade. A Stable classic group of the consumer protocol type becomes a
// consumer group when a consumer-protocol member joins it. Each classic
// member becomes a "classic member" of the consumer group: its subscription
// is read from its JoinGroup metadata, and what it was given in the last
// SyncGroup becomes both its assignment and its target, at a member epoch
// equal to the classic generation; the joining member then raises the group
// epoch and the target is computed again.
//
// Classic members keep speaking JoinGroup, SyncGroup, Heartbeat and
// LeaveGroup; the consumer group answers them. Their generation is their
// member epoch. A JoinGroup reconciles the member with its target, taking
// the partitions its metadata says it owns as its heartbeat would, and is
// answered at once: nobody is asked to assign. SyncGroup returns the
// member's assignment. A Heartbeat answers REBALANCE_IN_PROGRESS when the
// member must rejoin: the group epoch moved past its epoch, it must revoke
// partitions (its next assignment leaves them out, and its next JoinGroup
// shows them released, as in a cooperative rebalance), or partitions it
// waits for were released.
//
// Downgrade. When the last consumer-protocol member leaves and only classic
// members remain, the group becomes a classic group again: the members keep
// their assignments and a rebalance of the classic group starts.

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// classicMember is what a consumer group keeps of a member that speaks the
// classic protocol.
type classicMember struct {
	sessionTimeout time.Duration
	// protocols are the member's JoinGroup protocols, in its order of
	// preference; the first is the one the group uses with it.
	protocols []protocolMetadata
}

// protocol is the protocol name the member is answered with.
func (cm *classicMember) protocol() string {
	if len(cm.protocols) == 0 {
		return ""
	}
	return cm.protocols[0].name
}

// subscription reads the member's ConsumerMemberMetadata (from its first
// protocol, as Kafka reads it).
func (cm *classicMember) subscription() (kmsg.ConsumerMemberMetadata, bool) {
	var meta kmsg.ConsumerMemberMetadata
	if len(cm.protocols) == 0 || meta.ReadFrom(cm.protocols[0].metadata) != nil {
		return meta, false
	}
	return meta, true
}

// subscribedNames are the sorted, distinct topics of a subscription.
func subscribedNames(meta kmsg.ConsumerMemberMetadata) []string {
	names := slices.Clone(meta.Topics)
	slices.Sort(names)
	return slices.Compact(names)
}

// canUpgrade reports whether a classic group can become a consumer group
// with its members: Stable, of the consumer protocol type, every member's
// metadata and assignment readable, and within the consumer group size.
func (g *group) canUpgrade() bool {
	if g.state != stateStable || g.protocolType != consumerProtocolType || len(g.members) == 0 {
		return false
	}
	if limit := g.c.opts.MaxGroupSize; limit > 0 && len(g.members) >= limit {
		return false
	}
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if meta.ReadFrom(m.metadataFor(g.protocol)) != nil {
			return false
		}
		if len(m.assignment) > 0 {
			var a kmsg.ConsumerMemberAssignment
			if a.ReadFrom(m.assignment) != nil {
				return false
			}
		}
	}
	return true
}

// upgradeToConsumer turns a Stable classic group (see canUpgrade) into a
// consumer group of classic members; all are the cluster's topics, to name
// the assigned partitions by id.
func (g *group) upgradeToConsumer(all []TopicInfo) {
	g.log.Info("converting classic group to a consumer group", "generation", g.generation, "members", len(g.members))
	ids := make(map[string]TopicInfo, len(all))
	for _, t := range all {
		ids[t.Name] = t
	}
	cg := newConsumerGroup(max(g.generation, 0))
	for _, old := range g.sortedMembers() {
		// Nothing waits in a Stable group; a stray waiter is told to rejoin.
		g.deliverJoin(old, joinError(old.id, kerr.RebalanceInProgress.Code))
		g.deliverSync(old, syncOutcome{code: kerr.RebalanceInProgress.Code})
		old.session.cancel()
		var meta kmsg.ConsumerMemberMetadata
		_ = meta.ReadFrom(old.metadataFor(g.protocol)) // checked by canUpgrade
		protocols := []protocolMetadata{{name: g.protocol, metadata: old.metadataFor(g.protocol)}}
		for _, p := range old.protocols {
			if p.name != g.protocol {
				protocols = append(protocols, p)
			}
		}
		m := &consumerMember{
			id:               old.id,
			instanceID:       old.instanceID,
			clientID:         old.clientID,
			clientHost:       old.clientHost,
			subscribedNames:  subscribedNames(meta),
			rebalanceTimeout: old.rebalanceTimeout,
			epoch:            cg.epoch,
			previousEpoch:    cg.epoch,
			assigned:         partitionSet{},
			assignedEpoch:    make(map[topicPartitionID]int32),
			revoking:         partitionSet{},
			classic:          &classicMember{sessionTimeout: old.sessionTimeout, protocols: protocols},
		}
		var a kmsg.ConsumerMemberAssignment
		if len(old.assignment) > 0 {
			_ = a.ReadFrom(old.assignment) // checked by canUpgrade
		}
		for _, t := range a.Topics {
			info, ok := ids[t.Topic]
			if !ok {
				continue
			}
			for _, p := range t.Partitions {
				tp := topicPartitionID{info.ID, p}
				if p < 0 || p >= info.Partitions || cg.owners[tp] != "" {
					continue
				}
				cg.owners[tp] = m.id
				m.assigned[tp] = struct{}{}
				m.assignedEpoch[tp] = m.epoch
			}
		}
		cg.members[m.id] = m
		cg.target[m.id] = m.assigned.clone()
		if m.instanceID != "" {
			cg.static[m.instanceID] = m.id
		}
	}
	g.joinTimer.cancel()
	g.syncTimer.cancel()
	for _, t := range g.pendingMembers {
		t.cancel()
	}
	g.members = make(map[string]*member)
	g.staticMembers = make(map[string]string)
	g.pendingMembers = make(map[string]*groupTimer)
	g.pendingSync = nil
	g.awaitingJoin = 0
	g.consumer = cg
	g.protocolType = consumerGroupType
	g.protocol, g.leader = "", ""
	g.subscribedTopics = nil
	cg.dirty = true
	for _, m := range cg.members {
		g.restartConsumerSession(m)
	}
}

// maybeDowngrade turns a consumer group whose members all speak the classic
// protocol back into a classic group, after a consumer-protocol member
// left. The members keep their assignments, and the classic group
// rebalances at once.
func (g *group) maybeDowngrade() {
	cg := g.consumer
	if cg == nil || cg.isEmpty() {
		return
	}
	if limit := g.c.opts.MaxGroupSize; limit > 0 && len(cg.members) > limit {
		return
	}
	for _, m := range cg.members {
		if m.classic == nil {
			return
		}
	}
	g.log.Info("converting consumer group to a classic group", "epoch", cg.epoch, "members", len(cg.members))
	cg.stopTimers()
	members := make(map[string]*member, len(cg.members))
	for _, cm := range cg.sortedMembers() {
		members[cm.id] = &member{
			id:               cm.id,
			instanceID:       cm.instanceID,
			clientID:         cm.clientID,
			clientHost:       cm.clientHost,
			protocolType:     consumerProtocolType,
			protocols:        cm.classic.protocols,
			sessionTimeout:   cm.classic.sessionTimeout,
			rebalanceTimeout: cm.rebalanceTimeout,
			assignment:       cg.classicAssignment(cm),
		}
	}
	g.consumer = nil
	g.members = members
	for _, m := range g.sortedMembers() {
		if m.instanceID != "" {
			g.staticMembers[m.instanceID] = m.id
		}
		if g.leader == "" {
			g.leader = m.id
		}
	}
	// The generation is the newest member epoch, so that the members
	// that reached it are told of the rebalance rather than fenced.
	g.generation = 0
	for _, cm := range cg.members {
		g.generation = max(g.generation, cm.epoch)
	}
	g.protocolType = consumerProtocolType
	g.protocol = g.selectProtocol()
	g.subscribedTopics = g.computeSubscribedTopics()
	g.transition(stateStable)
	for _, m := range g.members {
		g.restartSession(m)
	}
	g.prepareRebalance("the last consumer-protocol member left; converted to a classic group")
}

// classicAssignment encodes what a classic member is assigned as its
// SyncGroup answer, in the version of its metadata.
func (cg *consumerGroup) classicAssignment(m *consumerMember) []byte {
	var a kmsg.ConsumerMemberAssignment
	if meta, ok := m.classic.subscription(); ok {
		a.Version = min(meta.Version, 3)
	}
	for _, t := range m.assigned.byTopic() {
		name, ok := cg.topicNames[t.TopicID]
		if !ok {
			continue
		}
		at := kmsg.NewConsumerMemberAssignmentTopic()
		at.Topic, at.Partitions = name, t.Partitions
		a.Topics = append(a.Topics, at)
	}
	slices.SortFunc(a.Topics, func(x, y kmsg.ConsumerMemberAssignmentTopic) int {
		switch {
		case x.Topic < y.Topic:
			return -1
		case x.Topic > y.Topic:
			return 1
		}
		return 0
	})
	return a.AppendTo(nil)
}

// ownedByName resolves a subscription's owned partitions to ids; topics
// the group does not know are left out.
func (cg *consumerGroup) ownedByName(meta kmsg.ConsumerMemberMetadata) partitionSet {
	out := partitionSet{}
	for _, t := range meta.OwnedPartitions {
		info, ok := cg.topics[t.Topic]
		if !ok {
			continue
		}
		for _, p := range t.Partitions {
			out[topicPartitionID{info.id, p}] = struct{}{}
		}
	}
	return out
}

// classicJoin answers a classic member's JoinGroup to a consumer group
// (Kafka's classicGroupJoinToConsumerGroup), under g.mu.
func (g *group) classicJoin(jr joinRequest) joinOutcome {
	cg := g.consumer
	if jr.protocolType != consumerProtocolType || len(jr.protocols) == 0 {
		return joinError(jr.memberID, kerr.InconsistentGroupProtocol.Code)
	}
	info := &classicMember{sessionTimeout: jr.sessionTimeout, protocols: jr.protocols}
	meta, ok := info.subscription()
	if !ok {
		return joinError(jr.memberID, kerr.InconsistentGroupProtocol.Code)
	}
	id := jr.memberID
	if id == "" {
		id = jr.client.ClientID + "-" + newMemberID()
		if jr.instanceID == "" && jr.version >= 4 {
			// KIP-394: the id first; the member joins with it.
			return joinError(id, kerr.MemberIDRequired.Code)
		}
	}
	m := cg.members[id]
	joined := false
	if jr.instanceID != "" {
		holder, held := cg.static[jr.instanceID]
		switch {
		case held && holder != id && jr.memberID != "":
			return joinError(jr.memberID, kerr.FencedInstanceID.Code)
		case held && holder != id:
			old := cg.members[holder]
			if old == nil || old.classic == nil {
				return joinError(jr.memberID, kerr.UnreleasedInstanceID.Code)
			}
			g.log.Info("static member rejoined with a new member id", "instance", jr.instanceID, "old", holder, "new", id)
			m = cg.replaceStatic(old, id)
		case !held && jr.memberID != "":
			return joinError(jr.memberID, kerr.UnknownMemberID.Code)
		}
	}
	switch {
	case m == nil && jr.memberID != "" && jr.instanceID == "" && jr.version < 4:
		return joinError(jr.memberID, kerr.UnknownMemberID.Code)
	case m != nil && m.classic == nil:
		// A consumer-protocol member cannot turn classic.
		return joinError(jr.memberID, kerr.UnknownMemberID.Code)
	case m == nil:
		if limit := g.c.opts.MaxGroupSize; limit > 0 && len(cg.members) >= limit {
			return joinError("", kerr.GroupMaxSizeReached.Code)
		}
		m = &consumerMember{
			id:            id,
			instanceID:    jr.instanceID,
			assigned:      partitionSet{},
			assignedEpoch: make(map[topicPartitionID]int32),
			revoking:      partitionSet{},
		}
		cg.members[id] = m
		if jr.instanceID != "" {
			cg.static[jr.instanceID] = id
		}
		joined = true
		g.log.Info("classic member joined the consumer group", "member", id, "instance", jr.instanceID)
	}
	m.clientID, m.clientHost = jr.client.ClientID, jr.client.ClientHost
	m.rebalanceTimeout = jr.rebalanceTimeout
	m.classic = info
	changed := joined
	if names := subscribedNames(meta); !slices.Equal(names, m.subscribedNames) {
		m.subscribedNames = names
		changed = true
	}
	cg.dirty = true
	if changed {
		// Topics only this member subscribes to are resolved at the next
		// refresh of the group's topics (a consumer-protocol heartbeat).
		cg.bumpEpoch()
	}
	cg.computeTarget()
	owned := cg.ownedByName(meta)
	mustRevoke := cg.reconcile(m, owned)
	if mustRevoke && !owned.intersects(m.revoking) {
		// The member already gave them up (an eager client revokes all
		// before it rejoins).
		mustRevoke = cg.reconcile(m, owned)
	}
	if mustRevoke {
		g.startRevokeTimer(m)
	} else if m.state != memberUnrevoked {
		m.revokeTimer.cancel()
	}
	m.assignmentChanged = false
	g.restartConsumerSession(m)
	g.syncConsumerState()
	return joinOutcome{
		memberID:     m.id,
		generation:   m.epoch,
		protocolType: consumerProtocolType,
		protocol:     info.protocol(),
		hasProtocol:  true,
	}
}

// classicMemberFor finds the classic member a SyncGroup, Heartbeat or
// LeaveGroup is from, checking its instance id.
func (cg *consumerGroup) classicMemberFor(memberID, instanceID string) (*consumerMember, int16) {
	if instanceID != "" {
		holder, ok := cg.static[instanceID]
		if !ok {
			return nil, kerr.UnknownMemberID.Code
		}
		if holder != memberID {
			return nil, kerr.FencedInstanceID.Code
		}
	}
	m := cg.members[memberID]
	if m == nil || m.classic == nil {
		return nil, kerr.UnknownMemberID.Code
	}
	return m, 0
}

// classicSync answers a classic member's SyncGroup to a consumer group
// with its assignment (Kafka's classicGroupSyncToConsumerGroup).
func (g *group) classicSync(req *kmsg.SyncGroupRequest, instanceID string) syncOutcome {
	cg := g.consumer
	m, code := cg.classicMemberFor(req.MemberID, instanceID)
	switch {
	case code != 0:
		return syncOutcome{code: code}
	case req.Generation != m.epoch:
		return syncOutcome{code: kerr.IllegalGeneration.Code}
	case req.ProtocolType != nil && *req.ProtocolType != consumerProtocolType,
		req.Protocol != nil && *req.Protocol != m.classic.protocol():
		return syncOutcome{code: kerr.InconsistentGroupProtocol.Code}
	}
	g.restartConsumerSession(m)
	return syncOutcome{
		protocolType: consumerProtocolType,
		protocol:     m.classic.protocol(),
		assignment:   cg.classicAssignment(m),
	}
}

// classicHeartbeat answers a classic member's Heartbeat to a consumer
// group (Kafka's classicGroupHeartbeatToConsumerGroup).
func (g *group) classicHeartbeat(req *kmsg.HeartbeatRequest) int16 {
	cg := g.consumer
	m, code := cg.classicMemberFor(req.MemberID, derefString(req.InstanceID))
	if code != 0 {
		return code
	}
	if req.Generation != m.epoch {
		return kerr.IllegalGeneration.Code
	}
	g.restartConsumerSession(m)
	if m.epoch < cg.epoch || m.state == memberUnrevoked ||
		(m.state == memberUnreleased && cg.releasedFor(m)) {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// releasedFor reports whether some partition of the member's target that
// it waits for is free now.
func (cg *consumerGroup) releasedFor(m *consumerMember) bool {
	for p := range cg.target[m.id].minus(m.assigned) {
		if _, held := cg.owners[p]; !held {
			return true
		}
	}
	return false
}

// classicLeave removes a classic member from a consumer group (LeaveGroup).
func (g *group) classicLeave(memberID, instanceID, reason string) int16 {
	cg := g.consumer
	if memberID == "" {
		// Removal by group.instance.id alone (an admin's request).
		holder, ok := cg.static[instanceID]
		if instanceID == "" || !ok {
			return kerr.UnknownMemberID.Code
		}
		memberID = holder
	}
	m, code := cg.classicMemberFor(memberID, instanceID)
	if code != 0 {
		return code
	}
	g.log.Info("classic member left the consumer group", "member", m.id, "instance", instanceID, "reason", reason)
	cg.remove(m)
	g.syncConsumerState()
	return 0
}
