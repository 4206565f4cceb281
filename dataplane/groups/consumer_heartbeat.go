package groups

// ConsumerGroupHeartbeat (key 68), v0-v1: the KIP-848 consumer protocol.
// One request joins (epoch 0), heartbeats and reconciles (epoch > 0) or
// leaves (-1, or -2 for a static member that will come back). Member ids are
// the client's from v1, the coordinator's before. Subscriptions are topic
// names or an RE2 regex (v1+) matched against whole names. An Empty classic
// group (offsets only) becomes a consumer group on its first heartbeat,
// keeping its offsets. A Stable classic group of consumers becomes one with
// its members, who go on with the classic protocol (online migration, see
// consumer_migration.go); while rebalancing it is COORDINATOR_NOT_AVAILABLE,
// for the member to retry, and other classic groups are GROUP_ID_NOT_FOUND.

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Bounds on what a heartbeat may carry; beyond them it is INVALID_REQUEST.
const (
	maxMemberIDBytes   = 256  // member ids, instance ids and rack ids
	maxRegexBytes      = 4096 // SubscribedTopicRegex
	maxSubscribedNames = 10000
)

// TopicInfo is a topic of a cluster as consumer groups see it.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Partitions int32
}

// TopicLister lists a cluster's topics, for resolving consumer group
// subscriptions. The broker passes its catalog.
type TopicLister interface {
	ListTopics(ctx context.Context, cluster string) ([]TopicInfo, error)
}

// consumerHeartbeat is a checked ConsumerGroupHeartbeat.
type consumerHeartbeat struct {
	group            string
	memberID         string
	epoch            int32
	instanceID       *string
	rackID           *string
	rebalanceTimeout time.Duration // 0: unchanged
	names            []string      // nil: unchanged
	regexSource      *string       // nil: unchanged
	assignor         *string       // nil: unchanged
	owned            partitionSet  // nil: unchanged
	client           ClientInfo
}

// consumerHeartbeatResult is what the member is answered.
type consumerHeartbeatResult struct {
	code       int16
	message    string
	memberID   string
	epoch      int32
	assignment *partitionSet
}

func heartbeatError(code int16, message string) consumerHeartbeatResult {
	return consumerHeartbeatResult{code: code, message: message}
}

// ConsumerGroupHeartbeat handles a KIP-848 heartbeat.
func (c *Coordinator) ConsumerGroupHeartbeat(ctx context.Context, cluster string, client ClientInfo, topics TopicLister, req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	resp.Version = req.Version
	var out consumerHeartbeatResult
	if !c.coordinates(cluster, req.Group) || !c.enter() {
		out = heartbeatError(kerr.NotCoordinator.Code, "")
	} else {
		out = c.consumerGroupHeartbeat(ctx, cluster, client, topics, req)
		c.leave()
	}
	resp.ErrorCode = out.code
	if out.message != "" {
		resp.ErrorMessage = kmsg.StringPtr(out.message)
	}
	if out.code != 0 {
		return resp
	}
	resp.MemberID = kmsg.StringPtr(out.memberID)
	resp.MemberEpoch = out.epoch
	resp.HeartbeatIntervalMillis = int32(c.opts.ConsumerHeartbeatInterval.Milliseconds())
	if out.assignment != nil {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		for _, t := range out.assignment.byTopic() {
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID, at.Partitions = t.TopicID, t.Partitions
			a.Topics = append(a.Topics, at)
		}
		resp.Assignment = &a
	}
	return resp
}

// checkConsumerHeartbeat validates a request as Kafka does, before any
// group is looked at.
func checkConsumerHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest, client ClientInfo) (consumerHeartbeat, int16, string) {
	hb := consumerHeartbeat{
		group:       req.Group,
		memberID:    req.MemberID,
		epoch:       req.MemberEpoch,
		instanceID:  req.InstanceID,
		rackID:      req.RackID,
		regexSource: req.SubscribedTopicRegex,
		assignor:    req.ServerAssignor,
		owned:       ownedPartitions(req.Topics),
		client:      client,
	}
	invalid := kerr.InvalidRequest.Code
	switch {
	case req.Group == "":
		return hb, invalid, "GroupId can't be empty."
	case len(req.MemberID) > maxMemberIDBytes,
		len(derefString(req.InstanceID)) > maxMemberIDBytes,
		len(derefString(req.RackID)) > maxMemberIDBytes:
		return hb, invalid, "MemberId, InstanceId or RackId is too long."
	case len(derefString(req.SubscribedTopicRegex)) > maxRegexBytes:
		return hb, invalid, "SubscribedTopicRegex is too long."
	case len(req.SubscribedTopicNames) > maxSubscribedNames:
		return hb, invalid, "SubscribedTopicNames has too many topics."
	case req.MemberEpoch < staticLeaveEpoch:
		return hb, invalid, "MemberEpoch is invalid."
	case req.MemberEpoch != joinEpoch && req.MemberID == "":
		return hb, invalid, "MemberId can't be empty."
	case req.Version >= 1 && req.MemberID == "":
		return hb, invalid, "MemberId can't be empty."
	case req.RebalanceTimeoutMillis < -1 || (req.MemberEpoch == joinEpoch && req.RebalanceTimeoutMillis == -1):
		return hb, invalid, "RebalanceTimeoutMs must be provided in first request."
	case req.MemberEpoch == joinEpoch && len(req.Topics) > 0:
		return hb, invalid, "TopicPartitions must be empty when (re-)joining."
	case req.MemberEpoch == joinEpoch && req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
		return hb, invalid, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request."
	case len(req.SubscribedTopicNames) > 0 && derefString(req.SubscribedTopicRegex) != "":
		return hb, invalid, "SubscribedTopicNames and SubscribedTopicRegex can't be used together."
	}
	if req.RebalanceTimeoutMillis > 0 {
		hb.rebalanceTimeout = msDuration(req.RebalanceTimeoutMillis)
	}
	if req.SubscribedTopicNames != nil {
		names := slices.Clone(req.SubscribedTopicNames)
		slices.Sort(names)
		hb.names = slices.Compact(names)
	}
	if a := derefString(req.ServerAssignor); a != "" {
		if _, ok := assignorByName(a); !ok {
			return hb, kerr.UnsupportedAssignor.Code, "ServerAssignor " + a + " is not supported; supported assignors: range, uniform."
		}
	}
	if re := derefString(req.SubscribedTopicRegex); re != "" {
		if _, err := compileSubscriptionRegex(re); err != nil {
			return hb, kerr.InvalidRegularExpression.Code, "SubscribedTopicRegex is not a valid RE2 expression."
		}
	}
	return hb, 0, ""
}

func (c *Coordinator) consumerGroupHeartbeat(ctx context.Context, cluster string, client ClientInfo, topics TopicLister, req *kmsg.ConsumerGroupHeartbeatRequest) consumerHeartbeatResult {
	hb, code, msg := checkConsumerHeartbeat(req, client)
	if code != 0 {
		return heartbeatError(code, msg)
	}
	cl, code := c.loadedCluster(ctx, cluster)
	if code != 0 {
		return heartbeatError(code, "")
	}
	var g *group
	if hb.epoch == joinEpoch {
		if g, code = cl.groupOrCreate(c, hb.group); code != 0 {
			return heartbeatError(code, "")
		}
	} else if g = cl.group(c, hb.group); g == nil {
		if hb.epoch < 0 {
			return heartbeatError(kerr.UnknownMemberID.Code, "")
		}
		return heartbeatError(kerr.UnknownMemberID.Code, "Group "+hb.group+" has no member "+hb.memberID+".")
	}

	// Topics are read before taking the group's lock: no lock is held
	// across storage calls.
	var all []TopicInfo
	listed := hb.epoch >= 0 && topics != nil && g.consumerTopicsDue(hb)
	if listed {
		var err error
		if all, err = topics.ListTopics(ctx, cluster); err != nil {
			c.log.Warn("list topics for consumer group", "cluster", cluster, "group", hb.group, "err", err)
			return heartbeatError(kerr.CoordinatorNotAvailable.Code, "")
		}
	}

	g.mu.Lock()
	defer g.unlock()
	if g.unavailable() {
		return heartbeatError(kerr.CoordinatorNotAvailable.Code, "")
	}
	g.activate()
	upgraded := false
	if g.consumer == nil {
		switch {
		case g.convertToConsumer():
		case hb.epoch == joinEpoch && listed && g.canUpgrade():
			g.upgradeToConsumer(all)
			upgraded = true
		case hb.epoch == joinEpoch && g.protocolType == consumerProtocolType && g.state != stateStable && g.state != stateEmpty:
			// Upgraded once its rebalance completes: the member retries.
			return heartbeatError(kerr.CoordinatorNotAvailable.Code, "Group "+hb.group+" is rebalancing; it can become a consumer group once Stable.")
		default:
			return heartbeatError(kerr.GroupIDNotFound.Code, "Group "+hb.group+" is not a consumer group.")
		}
	}
	cg := g.consumer
	defer g.saveIfDirty()
	if hb.epoch < 0 {
		return g.consumerLeave(hb)
	}
	m, joined, res := g.consumerMemberFor(hb)
	if res.code != 0 {
		if upgraded {
			// The member that would have upgraded the group is refused
			// (its static instance id is a classic member's, say): the
			// group stays classic.
			g.maybeDowngrade()
		}
		return res
	}
	// One heartbeat raises the group epoch at most once, whatever it
	// changed.
	changed := g.updateSubscription(m, hb) || joined
	if listed {
		if cg.refreshTopics(all) {
			changed = true
		}
		cg.topicsDue = g.c.clock.now().Add(g.c.opts.ConsumerTopicsRefreshInterval)
	}
	if changed {
		cg.bumpEpoch()
	}
	cg.computeTarget()
	if cg.reconcile(m, hb.owned) {
		g.startRevokeTimer(m)
	} else if m.state != memberUnrevoked {
		m.revokeTimer.cancel()
	}
	g.restartConsumerSession(m)
	g.syncConsumerState()

	res = consumerHeartbeatResult{memberID: m.id, epoch: m.epoch}
	// The assignment goes out when it changed, when the member joins,
	// and on every full request (the member may have missed one).
	if m.assignmentChanged || hb.epoch == joinEpoch || hb.owned != nil {
		a := m.assigned.clone()
		res.assignment = &a
		m.assignmentChanged = false
	}
	return res
}

// consumerTopicsDue reports whether a heartbeat must read the cluster's
// topics first: the refresh interval has passed, or the member joins or
// changes what it subscribes to.
func (g *group) consumerTopicsDue(hb consumerHeartbeat) bool {
	g.mu.Lock()
	defer g.unlock()
	cg := g.consumer
	if cg == nil || hb.epoch == joinEpoch || !g.c.clock.now().Before(cg.topicsDue) {
		return true
	}
	m := cg.members[hb.memberID]
	switch {
	case m == nil:
		return true
	case hb.names != nil && !slices.Equal(hb.names, m.subscribedNames):
		return true
	case hb.regexSource != nil && *hb.regexSource != m.regexSource:
		return true
	}
	return false
}

// convertToConsumer turns an Empty classic group (one that only keeps
// offsets) into a consumer group, as Kafka's offline upgrade does. A group
// with members or a join in progress stays classic.
func (g *group) convertToConsumer() bool {
	if g.state != stateEmpty || len(g.members) > 0 || len(g.pendingMembers) > 0 {
		return false
	}
	if g.protocolType != "" {
		g.log.Info("converting empty classic group to a consumer group")
	}
	g.joinTimer.cancel()
	g.syncTimer.cancel()
	g.consumer = newConsumerGroup(max(g.generation, 0))
	g.subscribedTopics = nil
	g.protocolType = consumerGroupType
	g.protocol = ""
	g.leader = ""
	g.consumer.dirty = true
	return true
}

// convertToClassic turns an Empty consumer group back into a classic one,
// for a classic JoinGroup (Kafka's offline downgrade); offsets stay.
func (g *group) convertToClassic() {
	g.log.Info("converting empty consumer group to a classic group")
	g.consumer.stopTimers()
	g.generation = max(g.generation, g.consumer.epoch)
	g.consumer = nil
	g.protocolType = ""
	g.subscribedTopics = nil
}

// consumerMemberFor finds (or, joining, creates) the member a heartbeat is
// from and checks its epoch (Kafka's member epoch fencing).
func (g *group) consumerMemberFor(hb consumerHeartbeat) (m *consumerMember, joined bool, res consumerHeartbeatResult) {
	cg := g.consumer
	instanceID := derefString(hb.instanceID)
	if hb.epoch == joinEpoch {
		return g.joinConsumerMember(hb, instanceID)
	}
	m = cg.members[hb.memberID]
	if m == nil || m.leftStatic || m.classic != nil {
		return nil, false, heartbeatError(kerr.UnknownMemberID.Code, "")
	}
	if instanceID != "" && instanceID != m.instanceID {
		return nil, false, heartbeatError(kerr.FencedInstanceID.Code, "")
	}
	switch {
	case hb.epoch > m.epoch:
		return nil, false, heartbeatError(kerr.FencedMemberEpoch.Code, "The member epoch is ahead of the coordinator's.")
	case hb.epoch < m.epoch:
		// A member that missed the response moving it to its current
		// epoch may go on from its previous one, if it owns nothing it
		// should not.
		if hb.epoch != m.previousEpoch || (hb.owned != nil && len(hb.owned.minus(m.assigned)) > 0) {
			return nil, false, heartbeatError(kerr.FencedMemberEpoch.Code, "The member epoch is stale.")
		}
		m.assignmentChanged = true
	}
	return m, false, consumerHeartbeatResult{}
}

// joinConsumerMember handles epoch 0; joined reports a member new to the
// group.
func (g *group) joinConsumerMember(hb consumerHeartbeat, instanceID string) (m *consumerMember, joined bool, res consumerHeartbeatResult) {
	cg := g.consumer
	id := hb.memberID
	if id == "" {
		id = newMemberID()
	}
	if instanceID != "" {
		if holder, ok := cg.static[instanceID]; ok && holder != id {
			old := cg.members[holder]
			if old != nil && !old.leftStatic {
				return nil, false, heartbeatError(kerr.UnreleasedInstanceID.Code,
					"Static member "+instanceID+" is still in use by another member.")
			}
			if old != nil && cg.members[id] == nil {
				g.log.Info("static member rejoined with a new member id", "instance", instanceID, "old", holder, "new", id)
				m := cg.replaceStatic(old, id)
				m.clientID, m.clientHost = hb.client.ClientID, hb.client.ClientHost
				return m, false, consumerHeartbeatResult{}
			}
		}
	}
	if m = cg.members[id]; m != nil {
		// A known member joining again owns nothing any more.
		cg.release(m)
		m.epoch, m.previousEpoch, m.state, m.leftStatic = 0, 0, memberStable, false
		m.classic = nil
		m.revokeTimer.cancel()
		m.assignmentChanged = true
		cg.dirty = true
		return m, false, consumerHeartbeatResult{}
	}
	if limit := g.c.opts.MaxGroupSize; limit > 0 && len(cg.members) >= limit {
		return nil, false, heartbeatError(kerr.GroupMaxSizeReached.Code, "")
	}
	m = &consumerMember{
		id:            id,
		instanceID:    instanceID,
		clientID:      hb.client.ClientID,
		clientHost:    hb.client.ClientHost,
		assigned:      partitionSet{},
		assignedEpoch: make(map[topicPartitionID]int32),
		revoking:      partitionSet{},
	}
	cg.members[id] = m
	if instanceID != "" {
		cg.static[instanceID] = id
	}
	g.log.Info("consumer group member joined", "member", id, "instance", instanceID)
	cg.dirty = true
	return m, true, consumerHeartbeatResult{}
}

// updateSubscription records what the heartbeat changes of the member; it
// reports whether the assignment depends on the change.
func (g *group) updateSubscription(m *consumerMember, hb consumerHeartbeat) bool {
	changed := false
	if hb.rackID != nil && *hb.rackID != m.rackID {
		m.rackID = *hb.rackID
		g.consumer.dirty = true
	}
	if hb.rebalanceTimeout > 0 && hb.rebalanceTimeout != m.rebalanceTimeout {
		m.rebalanceTimeout = hb.rebalanceTimeout
		g.consumer.dirty = true
	}
	if m.rebalanceTimeout <= 0 {
		m.rebalanceTimeout = g.c.opts.ConsumerSessionTimeout
	}
	if hb.names != nil && !slices.Equal(hb.names, m.subscribedNames) {
		m.subscribedNames = hb.names
		changed = true
	}
	if hb.regexSource != nil && *hb.regexSource != m.regexSource {
		m.regexSource, m.regex = *hb.regexSource, nil
		if m.regexSource != "" {
			m.regex, _ = compileSubscriptionRegex(m.regexSource) // checked already
		}
		changed = true
	}
	if hb.regexSource != nil && *hb.regexSource != "" && hb.names == nil && len(m.subscribedNames) > 0 {
		m.subscribedNames = nil
		changed = true
	}
	if hb.assignor != nil && *hb.assignor != m.assignor {
		m.assignor = *hb.assignor
		changed = true
	}
	return changed
}

// consumerLeave handles epoch -1 (leave) and -2 (static member leaving for
// now, keeping its partitions until it returns or its session expires).
func (g *group) consumerLeave(hb consumerHeartbeat) consumerHeartbeatResult {
	cg := g.consumer
	instanceID := derefString(hb.instanceID)
	m := cg.members[hb.memberID]
	if _, held := cg.static[instanceID]; m == nil && instanceID != "" && held {
		return heartbeatError(kerr.FencedInstanceID.Code, "Static member "+instanceID+" is held by another member id.")
	}
	if m == nil {
		return heartbeatError(kerr.UnknownMemberID.Code, "")
	}
	if instanceID != "" && m.instanceID != instanceID {
		return heartbeatError(kerr.FencedInstanceID.Code, "")
	}
	if hb.epoch == staticLeaveEpoch && m.instanceID == "" {
		// Only static members may leave for now. (Kafka also wants the
		// instance id in the request; some clients leave without it,
		// and the member id says who leaves.)
		return heartbeatError(kerr.InvalidRequest.Code, "Only a static member (with an instance id) may leave with epoch -2.")
	}
	res := consumerHeartbeatResult{memberID: m.id, epoch: hb.epoch}
	if hb.epoch == staticLeaveEpoch {
		g.log.Info("static member left for now", "member", m.id, "instance", m.instanceID)
		m.leftStatic = true
		m.revokeTimer.cancel()
		cg.dirty = true
		g.syncConsumerState()
		return res
	}
	g.log.Info("consumer group member left", "member", m.id)
	cg.remove(m)
	g.syncConsumerState()
	g.maybeDowngrade()
	return res
}

// restartConsumerSession restarts the member's session: without a
// heartbeat within group.consumer.session.timeout.ms it is removed.
func (g *group) restartConsumerSession(m *consumerMember) {
	id := m.id
	timeout := g.c.opts.ConsumerSessionTimeout
	if m.classic != nil {
		timeout = m.classic.sessionTimeout
	}
	m.session.start(g, timeout, func() {
		cg := g.consumer
		if cg == nil || cg.members[id] != m {
			return
		}
		g.log.Info("consumer group member session expired, removing it", "member", id)
		cg.remove(m)
		g.syncConsumerState()
		g.saveIfDirty()
		g.maybeDowngrade()
	})
}

// startRevokeTimer fences a member that does not revoke its partitions
// within its rebalance timeout, so they can move on.
func (g *group) startRevokeTimer(m *consumerMember) {
	id := m.id
	m.revokeTimer.start(g, m.rebalanceTimeout, func() {
		cg := g.consumer
		if cg == nil || cg.members[id] != m || m.state != memberUnrevoked {
			return
		}
		g.log.Info("consumer group member did not revoke its partitions in time, removing it", "member", id)
		cg.remove(m)
		g.syncConsumerState()
		g.saveIfDirty()
		g.maybeDowngrade()
	})
}

// syncConsumerState mirrors the consumer group into the fields shared with
// classic groups: state (Empty or not, for deletion and retention) and the
// subscribed topics (for OffsetDelete and retention).
func (g *group) syncConsumerState() {
	cg := g.consumer
	state := stateStable
	if cg.isEmpty() {
		state = stateEmpty
	}
	if state != g.state {
		g.transition(state)
	}
	// What members subscribe to changes only with the group epoch.
	if g.generation != cg.epoch || g.subscribedTopics == nil {
		g.subscribedTopics = cg.subscribedTopicNames()
	}
	g.generation = cg.epoch
}

// saveIfDirty queues a save of the group when its durable state changed.
func (g *group) saveIfDirty() {
	if g.consumer != nil && g.consumer.dirty && !g.unavailable() {
		g.consumer.dirty = false
		g.queueSave(nil)
	}
}

// activateConsumer starts the sessions of a consumer group restored from
// the Store, on the first request for it (see activate).
func (g *group) activateConsumer() {
	for _, m := range g.consumer.members {
		g.restartConsumerSession(m)
		if m.state == memberUnrevoked {
			g.startRevokeTimer(m)
		}
	}
}
