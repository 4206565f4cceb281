package groups

import (
	"bytes"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupState is the state of a classic group, as Kafka names them.
type groupState int8

const (
	stateEmpty groupState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s groupState) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	default:
		return "Dead"
	}
}

// consumerProtocolType is the protocol type of Kafka consumers, whose member
// metadata names the subscribed topics.
const consumerProtocolType = "consumer"

// group is one classic group. Every field after mu is guarded by mu; the
// methods below that are not request handlers expect mu held.
type group struct {
	c       *Coordinator
	cluster *clusterGroups
	name    string
	log     *slog.Logger

	// dead mirrors state == Dead so cluster lookups can skip a dead group
	// without taking its lock.
	dead atomic.Bool

	// saveSlot (capacity 1) orders this group's Store writes; see save.
	saveSlot chan struct{}

	mu sync.Mutex
	// active is false for a group restored from the Store until a request
	// for it reaches this coordinator; see activate.
	active       bool
	state        groupState
	stateSince   time.Time
	deleting     bool // a deletion is writing to the Store
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	// staticMembers maps group.instance.id to the current member id.
	staticMembers map[string]string
	// pendingMembers were handed a member id with MEMBER_ID_REQUIRED and
	// have not joined with it yet; the rebalance waits for them.
	pendingMembers map[string]*groupTimer
	// awaitingJoin counts members whose joinWaiter is set.
	awaitingJoin int
	// pendingSync holds the members of the current generation that have not
	// sent SyncGroup yet; syncTimer expels them after the rebalance timeout.
	pendingSync map[string]bool

	joinTimer groupTimer
	syncTimer groupTimer
	// While inInitialDelay the first rebalance of an Empty group waits for
	// more members rather than completing when all known ones joined.
	inInitialDelay        bool
	initialDelayRemaining time.Duration
	newMemberAdded        bool
	// rebalanceDeadline is when the current join phase ends at the latest.
	// resumeRebalanceBy, for a group restored in PreparingRebalance, is
	// the deadline its previous coordinator set (see resumeRebalance).
	rebalanceDeadline time.Time
	resumeRebalanceBy time.Time

	// consumer is set for a KIP-848 consumer group, whose members and
	// assignments live there (members above stays empty).
	consumer *consumerGroup

	// subscribedTopics are the topics the consumer-protocol members
	// subscribe to as of the last generation; nil when unknown.
	subscribedTopics map[string]bool

	// Persistence bookkeeping: see save. storeVersion is the version of
	// the group's record in the Store as this coordinator last read or
	// wrote it (0: none); it changes only under saveSlot.
	lastSaveSeq  uint64
	savedSeq     uint64
	queuedSave   *queuedSave
	storeVersion int64
}

// member is one member of a group.
type member struct {
	id           string
	instanceID   string // empty for a dynamic member
	clientID     string
	clientHost   string
	protocolType string
	// protocols are in the member's order of preference.
	protocols        []protocolMetadata
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	assignment       []byte
	// isNew is set until the member completes its first join; until then
	// it expires after newMemberJoinTimeout instead of its session.
	isNew bool

	// joinWaiter and syncWaiter are the channels of a JoinGroup or SyncGroup
	// waiting for the rebalance; each receives exactly one outcome.
	joinWaiter chan joinOutcome
	syncWaiter chan syncOutcome

	session groupTimer
}

type protocolMetadata struct {
	name     string
	metadata []byte
}

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.name == protocol {
			return p.metadata
		}
	}
	return nil
}

func (m *member) supports(protocol string) bool {
	for _, p := range m.protocols {
		if p.name == protocol {
			return true
		}
	}
	return false
}

func (m *member) matches(protocols []protocolMetadata) bool {
	return slices.EqualFunc(m.protocols, protocols, func(a, b protocolMetadata) bool {
		return a.name == b.name && bytes.Equal(a.metadata, b.metadata)
	})
}

// copyProtocols copies the request's protocols: the request's byte slices
// may alias a buffer the broker reuses.
func copyProtocols(in []kmsg.JoinGroupRequestProtocol) []protocolMetadata {
	out := make([]protocolMetadata, len(in))
	for i, p := range in {
		out[i] = protocolMetadata{name: p.Name, metadata: bytes.Clone(p.Metadata)}
	}
	return out
}

// joinOutcome is what a JoinGroup is answered.
type joinOutcome struct {
	code           int16
	memberID       string
	generation     int32
	protocolType   string
	protocol       string
	hasProtocol    bool
	leader         string
	members        []kmsg.JoinGroupResponseMember
	skipAssignment bool
}

func joinError(memberID string, code int16) joinOutcome {
	return joinOutcome{code: code, memberID: memberID, generation: -1}
}

// syncOutcome is what a SyncGroup is answered.
type syncOutcome struct {
	code         int16
	protocolType string
	protocol     string
	assignment   []byte
}

func newGroup(c *Coordinator, cl *clusterGroups, name string) *group {
	return &group{
		c:              c,
		cluster:        cl,
		name:           name,
		log:            c.log.With("cluster", cl.name, "group", name),
		saveSlot:       make(chan struct{}, 1),
		active:         true,
		state:          stateEmpty,
		stateSince:     c.clock.now(),
		members:        make(map[string]*member),
		staticMembers:  make(map[string]string),
		pendingMembers: make(map[string]*groupTimer),
	}
}

// unlock releases mu, then writes the save queued under it, if any.
func (g *group) unlock() {
	q := g.queuedSave
	g.queuedSave = nil
	g.mu.Unlock()
	if q != nil {
		ctx, cancel := g.c.storeContext()
		defer cancel()
		if err := g.save(ctx, q.record, q.seq); err != nil {
			g.log.Warn("save group", "generation", q.record.Generation, "err", err)
		}
	}
}

func (g *group) transition(s groupState) {
	if g.state != s {
		g.log.Debug("group state", "from", g.state, "to", s, "generation", g.generation)
	}
	g.state = s
	g.stateSince = g.c.clock.now()
	if s == stateDead {
		g.dead.Store(true)
	}
}

// activate starts the sessions of a group restored from the Store when the
// first request for it arrives. Until then the restored copy is passive: a
// broker loads every group of a cluster but coordinates only some, and must
// not expire members that heartbeat to another broker, nor save over that
// broker's record.
func (g *group) activate() {
	if g.active {
		return
	}
	g.active = true
	for _, m := range g.members {
		g.restartSession(m)
	}
	if !g.resumeRebalanceBy.IsZero() {
		g.resumeRebalance(g.resumeRebalanceBy)
		g.resumeRebalanceBy = time.Time{}
	}
	if g.consumer != nil {
		g.activateConsumer()
	}
}

// unavailable reports a group that must not serve requests: Dead, or being
// deleted. Clients answered COORDINATOR_NOT_AVAILABLE retry.
func (g *group) unavailable() bool { return g.state == stateDead || g.deleting }

// markDead ends the group: waiting requests get code, timers stop, and no
// later save may write it back to the Store.
func (g *group) markDead(code int16) {
	for _, m := range g.members {
		g.deliverJoin(m, joinError(m.id, code))
		g.deliverSync(m, syncOutcome{code: code})
	}
	g.stopTimers()
	g.savedSeq = ^uint64(0)
	g.queuedSave = nil
	g.transition(stateDead)
}

func (g *group) stopTimers() {
	g.joinTimer.cancel()
	g.syncTimer.cancel()
	for _, m := range g.members {
		m.session.cancel()
	}
	for _, t := range g.pendingMembers {
		t.cancel()
	}
	if g.consumer != nil {
		g.consumer.stopTimers()
	}
}

func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// supportsProtocols is Kafka's check that a joining member can be part of
// the group: same protocol type and one protocol every member supports.
func (g *group) supportsProtocols(protocolType string, protocols []protocolMetadata) bool {
	if g.state == stateEmpty || len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if g.allSupport(p.name) {
			return true
		}
	}
	return false
}

func (g *group) allSupport(protocol string) bool {
	for _, m := range g.members {
		if !m.supports(protocol) {
			return false
		}
	}
	return true
}

// selectProtocol picks the protocol of the next generation as Kafka does:
// among the protocols all members support, each member votes for the one it
// prefers most; the most votes win (ties go to the smallest name so the
// choice is deterministic).
func (g *group) selectProtocol() string {
	votes := make(map[string]int)
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.allSupport(p.name) {
				votes[p.name]++
				break
			}
		}
	}
	best, bestVotes := "", 0
	for name, n := range votes {
		if n > bestVotes || (n == bestVotes && name < best) {
			best, bestVotes = name, n
		}
	}
	if best == "" {
		// No common protocol (cannot happen through JoinGroup's checks);
		// fall back to the leader's preference so the group still forms.
		if l := g.members[g.leader]; l != nil && len(l.protocols) > 0 {
			best = l.protocols[0].name
		}
	}
	return best
}

// computeSubscribedTopics reads the topics of consumer-protocol members, so
// OffsetDelete can refuse topics the group consumes. nil means unknown.
func (g *group) computeSubscribedTopics() map[string]bool {
	if g.protocolType != consumerProtocolType {
		return nil
	}
	topics := make(map[string]bool)
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil
		}
		for _, t := range meta.Topics {
			topics[t] = true
		}
	}
	return topics
}

func (g *group) isSubscribedTo(topic string) bool {
	if g.subscribedTopics == nil {
		return true
	}
	return g.subscribedTopics[topic]
}

// sortedMembers returns the members ordered by member id, for stable output.
func (g *group) sortedMembers() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *member) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return out
}

// joinedMembersMetadata is the member list the leader receives.
func (g *group) joinedMembersMetadata() []kmsg.JoinGroupResponseMember {
	members := g.sortedMembers()
	out := make([]kmsg.JoinGroupResponseMember, 0, len(members))
	for _, m := range members {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		if m.instanceID != "" {
			jm.InstanceID = kmsg.StringPtr(m.instanceID)
		}
		jm.ProtocolMetadata = m.metadataFor(g.protocol)
		out = append(out, jm)
	}
	return out
}

// currentJoinOutcome answers a member with the current generation.
func (g *group) currentJoinOutcome(memberID string, withMembers bool) joinOutcome {
	out := joinOutcome{
		memberID:     memberID,
		generation:   g.generation,
		protocolType: g.protocolType,
		protocol:     g.protocol,
		hasProtocol:  true,
		leader:       g.leader,
	}
	if withMembers {
		out.members = g.joinedMembersMetadata()
	}
	return out
}

// setJoinWaiter sets or clears the channel a member's JoinGroup waits on,
// keeping awaitingJoin in step. A waiter replaced by a newer JoinGroup of
// the same member is told to rejoin.
func (g *group) setJoinWaiter(m *member, w chan joinOutcome) {
	if m.joinWaiter != nil {
		g.awaitingJoin--
		if w != nil {
			m.joinWaiter <- joinError(m.id, kerr.RebalanceInProgress.Code)
		}
	}
	m.joinWaiter = w
	if w != nil {
		g.awaitingJoin++
	}
}

func (g *group) deliverJoin(m *member, out joinOutcome) {
	if m.joinWaiter == nil {
		return
	}
	w := m.joinWaiter
	m.joinWaiter = nil
	g.awaitingJoin--
	w <- out // buffered, capacity 1, written once
	// The member was alive while it waited: its session restarts from the
	// answer, not from its last heartbeat.
	g.restartSession(m)
}

func (g *group) setSyncWaiter(m *member, w chan syncOutcome) {
	if m.syncWaiter != nil && w != nil {
		m.syncWaiter <- syncOutcome{code: kerr.RebalanceInProgress.Code}
	}
	m.syncWaiter = w
}

func (g *group) deliverSync(m *member, out syncOutcome) {
	if m.syncWaiter == nil {
		return
	}
	w := m.syncWaiter
	m.syncWaiter = nil
	w <- out
	g.restartSession(m)
}

// restartSession restarts the member's session timer.
func (g *group) restartSession(m *member) {
	d := m.sessionTimeout
	if m.isNew {
		d = newMemberJoinTimeout
	}
	id := m.id
	m.session.start(g, d, func() { g.sessionExpired(id) })
}

func (g *group) sessionExpired(memberID string) {
	m := g.members[memberID]
	if m == nil || m.id != memberID {
		return
	}
	if !m.isNew && (m.joinWaiter != nil || m.syncWaiter != nil) {
		// A member waiting in JoinGroup or SyncGroup cannot heartbeat; the
		// wait itself counts as liveness (Kafka's hasSatisfiedHeartbeat).
		g.restartSession(m)
		return
	}
	g.log.Info("member session expired, removing it", "member", memberID, "generation", g.generation)
	g.removeMemberAndUpdate(m)
}

// addMember adds a member that has just joined (Kafka's GroupMetadata.add).
func (g *group) addMember(m *member, w chan joinOutcome) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if t := g.pendingMembers[m.id]; t != nil {
		t.cancel()
		delete(g.pendingMembers, m.id)
	}
	g.members[m.id] = m
	if m.instanceID != "" {
		g.staticMembers[m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.setJoinWaiter(m, w)
}

// addMemberAndRebalance adds a new member and starts (or joins) a rebalance.
func (g *group) addMemberAndRebalance(m *member) chan joinOutcome {
	m.isNew = true
	if g.state == statePreparingRebalance && g.generation == 0 {
		// A new member joined during the first rebalance: the initial
		// delay may be extended to wait for more.
		g.newMemberAdded = true
	}
	w := make(chan joinOutcome, 1)
	g.addMember(m, w)
	g.restartSession(m)
	g.maybePrepareRebalance("new member " + m.id + " joined")
	return w
}

// updateMember records a known member's rejoin (Kafka's updateMember).
func (g *group) updateMember(m *member, protocols []protocolMetadata, sessionTimeout, rebalanceTimeout time.Duration, w chan joinOutcome) {
	m.protocols = protocols
	m.sessionTimeout = sessionTimeout
	m.rebalanceTimeout = rebalanceTimeout
	g.setJoinWaiter(m, w)
}

// removeMember drops a member; any request it has waiting is answered
// UNKNOWN_MEMBER_ID.
func (g *group) removeMember(m *member) {
	g.deliverJoin(m, joinError("", kerr.UnknownMemberID.Code))
	g.deliverSync(m, syncOutcome{code: kerr.UnknownMemberID.Code})
	m.session.cancel()
	delete(g.members, m.id)
	if m.instanceID != "" && g.staticMembers[m.instanceID] == m.id {
		delete(g.staticMembers, m.instanceID)
	}
	if g.pendingSync[m.id] {
		delete(g.pendingSync, m.id)
		g.maybeCompletePendingSync()
	}
	if g.leader == m.id {
		g.leader = g.electLeader()
	}
}

// electLeader picks a new leader, preferring a member that has rejoined.
func (g *group) electLeader() string {
	leader := ""
	for _, m := range g.sortedMembers() {
		if m.joinWaiter != nil {
			return m.id
		}
		if leader == "" {
			leader = m.id
		}
	}
	return leader
}

// removeMemberAndUpdate removes a member and moves the group on, as Kafka's
// removeMemberAndUpdateGroup.
func (g *group) removeMemberAndUpdate(m *member) {
	g.removeMember(m)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		g.maybePrepareRebalance("member " + m.id + " left")
	case statePreparingRebalance:
		g.tryCompleteJoin()
		if g.state == statePreparingRebalance && g.protocol != "" {
			g.queueSave(nil) // so that no coordinator brings it back
		}
	}
}

func (g *group) removePendingMember(memberID string) {
	t := g.pendingMembers[memberID]
	if t == nil {
		return
	}
	t.cancel()
	delete(g.pendingMembers, memberID)
	if g.state == statePreparingRebalance {
		g.tryCompleteJoin()
	}
}

// addPendingMember remembers a member id handed out with MEMBER_ID_REQUIRED;
// it is forgotten if the member does not join within its session timeout.
func (g *group) addPendingMember(memberID string, sessionTimeout time.Duration) {
	t := &groupTimer{}
	g.pendingMembers[memberID] = t
	t.start(g, sessionTimeout, func() {
		if g.pendingMembers[memberID] == t {
			g.removePendingMember(memberID)
		}
	})
}

func (g *group) canRebalance() bool {
	return g.state == stateStable || g.state == stateCompletingRebalance || g.state == stateEmpty
}

func (g *group) maybePrepareRebalance(reason string) {
	if g.canRebalance() {
		g.prepareRebalance(reason)
	}
}

// prepareRebalance moves the group to PreparingRebalance and arms the
// timer that completes the join phase.
func (g *group) prepareRebalance(reason string) {
	if g.state == stateCompletingRebalance {
		g.resetAssignments(kerr.RebalanceInProgress.Code)
	}
	g.syncTimer.cancel()
	g.pendingSync = nil
	wasEmpty := g.state == stateEmpty
	g.transition(statePreparingRebalance)
	g.log.Info("preparing to rebalance", "generation", g.generation, "reason", reason)

	rebalanceTimeout := g.maxRebalanceTimeout()
	g.rebalanceDeadline = g.c.clock.now().Add(rebalanceTimeout)
	delay := g.c.opts.InitialRebalanceDelay
	if wasEmpty && delay > 0 {
		// Kafka's InitialDelayedJoin: wait for more members to arrive
		// before the first generation, at most the rebalance timeout.
		g.inInitialDelay = true
		g.newMemberAdded = false
		g.initialDelayRemaining = max(rebalanceTimeout-delay, 0)
		g.joinTimer.start(g, delay, g.initialDelayExpired)
		return
	}
	g.inInitialDelay = false
	g.joinTimer.start(g, rebalanceTimeout, g.completeJoin)
	g.tryCompleteJoin()
	if g.state == statePreparingRebalance && g.protocol != "" {
		// Saved with its members and deadline: see persist.go.
		g.queueSave(nil)
	}
}

// resumeRebalance goes on with the rebalance a previous coordinator of this
// (restored) group began: its join phase ends by the deadline that one set,
// so that a group whose coordinator keeps moving still completes its
// rebalances and drops the members that are gone. Members that were waiting
// in JoinGroup send it again here; the others learn of the rebalance from
// their next heartbeat, so they get at least restoredRejoinGrace to rejoin.
func (g *group) resumeRebalance(deadline time.Time) {
	g.transition(statePreparingRebalance)
	g.rebalanceDeadline = deadline
	wait := max(deadline.Sub(g.c.clock.now()), min(restoredRejoinGrace, g.maxRebalanceTimeout()))
	g.log.Info("resuming the rebalance begun by the previous coordinator", "generation", g.generation, "join phase ends in", wait)
	g.joinTimer.start(g, wait, g.completeJoin)
}

func (g *group) initialDelayExpired() {
	if g.newMemberAdded && g.initialDelayRemaining > 0 {
		g.newMemberAdded = false
		delay := min(g.c.opts.InitialRebalanceDelay, g.initialDelayRemaining)
		g.initialDelayRemaining = max(g.initialDelayRemaining-g.c.opts.InitialRebalanceDelay, 0)
		g.joinTimer.start(g, delay, g.initialDelayExpired)
		return
	}
	g.completeJoin()
}

// tryCompleteJoin completes the join phase once every known member has
// rejoined and no member id handed out is still pending.
func (g *group) tryCompleteJoin() {
	if g.state != statePreparingRebalance || g.inInitialDelay {
		return
	}
	if len(g.members) == g.awaitingJoin && len(g.pendingMembers) == 0 {
		g.completeJoin()
	}
}

// completeJoin ends the join phase (Kafka's onCompleteJoin): dynamic members
// that did not rejoin are removed, the next generation starts and every
// waiting JoinGroup is answered.
func (g *group) completeJoin() {
	if g.state != statePreparingRebalance {
		return
	}
	g.joinTimer.cancel()
	g.inInitialDelay = false
	for _, m := range g.sortedMembers() {
		if m.joinWaiter == nil && m.instanceID == "" {
			g.log.Info("member did not rejoin in time, removing it", "member", m.id)
			g.removeMember(m)
		}
	}
	if len(g.members) > 0 && !g.ensureJoinedLeader() {
		// Only static members that have not rejoined remain: wait for
		// them, or for their sessions to expire.
		g.log.Warn("no member rejoined; waiting another rebalance timeout")
		g.joinTimer.start(g, g.maxRebalanceTimeout(), g.completeJoin)
		return
	}

	g.generation++
	g.pendingSync = nil
	if len(g.members) == 0 {
		g.protocol = ""
		g.subscribedTopics = g.computeSubscribedTopics()
		g.transition(stateEmpty)
		g.log.Info("group is empty", "generation", g.generation)
		g.queueSave(nil)
		return
	}
	g.protocol = g.selectProtocol()
	g.subscribedTopics = g.computeSubscribedTopics()
	g.transition(stateCompletingRebalance)
	g.log.Info("rebalance joined", "generation", g.generation, "protocol", g.protocol,
		"leader", g.leader, "members", len(g.members))

	g.pendingSync = make(map[string]bool, len(g.members))
	for _, m := range g.members {
		g.deliverJoin(m, g.currentJoinOutcome(m.id, m.id == g.leader))
		m.isNew = false
		g.restartSession(m)
		g.pendingSync[m.id] = true
	}
	generation := g.generation
	g.syncTimer.start(g, g.maxRebalanceTimeout(), func() { g.pendingSyncExpired(generation) })
}

// ensureJoinedLeader makes sure the leader is a member that rejoined.
func (g *group) ensureJoinedLeader() bool {
	if l := g.members[g.leader]; l != nil && l.joinWaiter != nil {
		return true
	}
	for _, m := range g.sortedMembers() {
		if m.joinWaiter != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

// pendingSyncExpired expels the members that did not send SyncGroup within
// the rebalance timeout after the join phase, and rebalances without them.
func (g *group) pendingSyncExpired(generation int32) {
	if generation != g.generation {
		return
	}
	if g.state != stateCompletingRebalance && g.state != stateStable {
		return
	}
	for id := range g.pendingSync {
		if m := g.members[id]; m != nil {
			g.log.Info("member did not sync in time, removing it", "member", id)
			g.removeMember(m)
		}
	}
	g.prepareRebalance("members failed to sync")
}

func (g *group) maybeCompletePendingSync() {
	if len(g.pendingSync) == 0 && (g.state == stateCompletingRebalance || g.state == stateStable) {
		g.syncTimer.cancel()
	}
}

// resetAssignments clears assignments and answers waiting SyncGroups with
// code, when a rebalance interrupts CompletingRebalance.
func (g *group) resetAssignments(code int16) {
	for _, m := range g.members {
		m.assignment = nil
		g.deliverSync(m, syncOutcome{code: code})
	}
}

// propagateAssignments installs the leader's assignment and answers
// every waiting SyncGroup.
func (g *group) propagateAssignments(assignments map[string][]byte) {
	for _, m := range g.members {
		m.assignment = assignments[m.id]
		g.deliverSync(m, syncOutcome{
			protocolType: g.protocolType,
			protocol:     g.protocol,
			assignment:   m.assignment,
		})
	}
}

// validateCurrentMember checks a request's member id and instance id
// (Kafka's validateCurrentMember).
func (g *group) validateCurrentMember(memberID, instanceID string) int16 {
	if instanceID != "" {
		current, ok := g.staticMembers[instanceID]
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		if current != memberID {
			return kerr.FencedInstanceID.Code
		}
		return 0
	}
	if g.members[memberID] == nil {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

// replaceStaticMember gives a static member its new member id; requests
// the old id has waiting are fenced.
func (g *group) replaceStaticMember(instanceID, oldID, newID string) *member {
	m := g.members[oldID]
	g.deliverJoin(m, joinError(oldID, kerr.FencedInstanceID.Code))
	g.deliverSync(m, syncOutcome{code: kerr.FencedInstanceID.Code})
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	g.staticMembers[instanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	return m
}
