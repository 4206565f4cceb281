package groups

// KIP-848 consumer groups: the coordinator assigns partitions itself and
// each member converges on its target through heartbeats.
//
// Epochs. The group epoch rises whenever what the assignment depends on
// changes: a member joins or leaves, a subscription changes, or a
// subscribed topic appears, disappears or grows. The target assignment is
// then computed again for that epoch (the assignment epoch). Each member
// has its own member epoch, the assignment epoch it has reached.
//
// Reconciliation is incremental. A member whose target no longer holds some
// of its partitions is first asked to revoke them, keeping its epoch; once a
// heartbeat shows it no longer owns them, it moves to the assignment epoch
// and is given the partitions of its target that nobody else holds. A
// partition still held (or being revoked) by another member is given later,
// once released. So partitions that stay with a member are never taken away
// by a rebalance, and no partition is ever held by two members.

import (
	"crypto/rand"
	"encoding/base64"
	"maps"
	"regexp"
	"slices"
	"time"
)

// Kafka's defaults for consumer groups (broker configs named beside each).
const (
	defaultConsumerSessionTimeout    = 45 * time.Second // group.consumer.session.timeout.ms
	defaultConsumerHeartbeatInterval = 5 * time.Second  // group.consumer.heartbeat.interval.ms
	defaultConsumerTopicsRefresh     = time.Second
)

// consumerGroupType is the KIP-848 group type, and its protocol type.
const consumerGroupType = "consumer"

// Member epochs with a meaning of their own in requests.
const (
	joinEpoch        = 0
	leaveEpoch       = -1
	staticLeaveEpoch = -2
)

// memberState is how far a member is in reconciling toward its target.
type memberState int8

const (
	// memberStable: the member has its target, at the assignment epoch.
	memberStable memberState = iota
	// memberUnrevoked: the member must revoke partitions first.
	memberUnrevoked
	// memberUnreleased: at the assignment epoch, waiting for partitions
	// that other members have not released yet.
	memberUnreleased
)

func (s memberState) String() string {
	switch s {
	case memberUnrevoked:
		return "UNREVOKED_PARTITIONS"
	case memberUnreleased:
		return "UNRELEASED_PARTITIONS"
	}
	return "STABLE"
}

func parseMemberState(s string) memberState {
	switch s {
	case "UNREVOKED_PARTITIONS":
		return memberUnrevoked
	case "UNRELEASED_PARTITIONS":
		return memberUnreleased
	}
	return memberStable
}

// consumerGroup is the KIP-848 state of a group; group.consumer is set for
// such groups. Guarded by the group's mu.
type consumerGroup struct {
	epoch           int32
	assignmentEpoch int32
	assignorName    string

	members map[string]*consumerMember
	// static maps group.instance.id to the member id holding it.
	static map[string]string
	// target is the target assignment of each member at assignmentEpoch.
	target map[string]partitionSet
	// owners maps each partition some member holds (assigned or being
	// revoked) to that member.
	owners map[topicPartitionID]string
	// topics are the subscribed topics as the target last saw them, by
	// name; topicNames names their ids.
	topics     map[string]topicMeta
	topicNames map[[16]byte]string
	// topicsDue is when the cluster's topics are next read; zero: now.
	topicsDue time.Time

	// dirty is set when durable state changed and the group must be saved.
	dirty bool
}

// consumerMember is one member of a consumer group.
type consumerMember struct {
	id, instanceID, rackID string
	clientID, clientHost   string

	subscribedNames  []string // sorted
	regexSource      string
	regex            *regexp.Regexp // anchored form of regexSource
	assignor         string         // the member's ServerAssignor, "" for the default
	rebalanceTimeout time.Duration

	epoch, previousEpoch int32
	state                memberState
	leftStatic           bool
	assigned             partitionSet
	assignedEpoch        map[topicPartitionID]int32
	revoking             partitionSet

	// assignmentChanged is set when assigned changed since the member was
	// last told; its next response carries the assignment.
	assignmentChanged bool

	// classic is set for a member speaking the classic protocol (see
	// consumer_migration.go).
	classic *classicMember

	session     groupTimer
	revokeTimer groupTimer
}

func newConsumerGroup(epoch int32) *consumerGroup {
	return &consumerGroup{
		epoch:           epoch,
		assignmentEpoch: epoch,
		members:         make(map[string]*consumerMember),
		static:          make(map[string]string),
		target:          make(map[string]partitionSet),
		owners:          make(map[topicPartitionID]string),
		topics:          make(map[string]topicMeta),
		topicNames:      make(map[[16]byte]string),
	}
}

func newMemberID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// compileSubscriptionRegex compiles a SubscribedTopicRegex (RE2 syntax),
// matched against whole topic names as Kafka does.
func compileSubscriptionRegex(src string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + src + `)$`)
}

// subscribes reports whether the member subscribes to a topic name.
func (m *consumerMember) subscribes(topic string) bool {
	if _, ok := slices.BinarySearch(m.subscribedNames, topic); ok {
		return true
	}
	return m.regex != nil && m.regex.MatchString(topic)
}

// isEmpty reports a group without members; static members that left for
// now still count (they keep their partitions).
func (cg *consumerGroup) isEmpty() bool { return len(cg.members) == 0 }

// stateName is the group's state as Kafka names consumer group states.
func (cg *consumerGroup) stateName() string {
	switch {
	case len(cg.members) == 0:
		return "Empty"
	case cg.epoch != cg.assignmentEpoch:
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.epoch != cg.assignmentEpoch || m.state != memberStable {
			return "Reconciling"
		}
	}
	return "Stable"
}

func (cg *consumerGroup) sortedMembers() []*consumerMember {
	out := slices.Collect(maps.Values(cg.members))
	slices.SortFunc(out, func(a, b *consumerMember) int {
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

// bumpEpoch starts a new group epoch: the target is stale until computed.
func (cg *consumerGroup) bumpEpoch() {
	cg.epoch++
	cg.dirty = true
}

// subscribedTopicNames are the names the members subscribe to, among known
// topics; for OffsetDelete and retention.
func (cg *consumerGroup) subscribedTopicNames() map[string]bool {
	out := make(map[string]bool)
	for name := range cg.topics {
		out[name] = true
	}
	for _, m := range cg.members {
		for _, name := range m.subscribedNames {
			out[name] = true
		}
	}
	return out
}

// refreshTopics resolves every member's subscription against the cluster's
// topics, and reports whether the subscribed topics changed (created,
// deleted, grown, or matched differently): the group epoch must rise.
// Partitions of topics that no
// longer exist are dropped from members at once: there is nothing left to
// revoke.
func (cg *consumerGroup) refreshTopics(all []TopicInfo) bool {
	next := make(map[string]topicMeta)
	for _, t := range all {
		if t.Partitions <= 0 {
			continue
		}
		for _, m := range cg.members {
			if m.subscribes(t.Name) {
				next[t.Name] = topicMeta{name: t.Name, id: t.ID, partitions: t.Partitions}
				break
			}
		}
	}
	if maps.Equal(next, cg.topics) {
		return false
	}
	cg.topics = next
	cg.dirty = true
	live := make(map[[16]byte]int32, len(all))
	for _, t := range all {
		live[t.ID] = t.Partitions
	}
	for p, owner := range cg.owners {
		if n, ok := live[p.topic]; ok && p.partition < n {
			continue
		}
		delete(cg.owners, p)
		if m := cg.members[owner]; m != nil {
			if m.assigned.has(p) {
				delete(m.assigned, p)
				delete(m.assignedEpoch, p)
				m.assignmentChanged = true
			}
			delete(m.revoking, p)
		}
	}
	for id := range cg.topicNames {
		if _, ok := live[id]; !ok {
			delete(cg.topicNames, id)
		}
	}
	for _, t := range next {
		cg.topicNames[t.id] = t.name
	}
	return true
}

// computeTarget computes the target assignment for the group epoch, when it
// is behind.
func (cg *consumerGroup) computeTarget() {
	if cg.assignmentEpoch == cg.epoch {
		return
	}
	requested := make([]string, 0, len(cg.members))
	members := make([]assignMember, 0, len(cg.members))
	for _, m := range cg.sortedMembers() {
		requested = append(requested, m.assignor)
		am := assignMember{id: m.id, current: cg.target[m.id]}
		for _, name := range slices.Sorted(maps.Keys(cg.topics)) {
			if m.subscribes(name) {
				am.topics = append(am.topics, name)
			}
		}
		members = append(members, am)
	}
	name := preferredAssignor(requested)
	assign, ok := assignorByName(name)
	if !ok {
		name, assign = defaultAssignorName, assignUniform
	}
	target := assign(members, cg.topics)
	cg.target = make(map[string]partitionSet, len(cg.members))
	for id := range cg.members {
		cg.target[id] = target[id].clone()
	}
	cg.assignorName = name
	cg.assignmentEpoch = cg.epoch
	cg.dirty = true
}

// reconcile moves a member toward its target (Kafka's
// CurrentAssignmentBuilder). owned is what the member's heartbeat says it
// owns, nil when it did not say. It reports whether the member must now
// revoke partitions (so its rebalance timeout starts).
func (cg *consumerGroup) reconcile(m *consumerMember, owned partitionSet) (mustRevoke bool) {
	if m.state == memberUnrevoked {
		if owned == nil || owned.intersects(m.revoking) {
			return false // still revoking
		}
		for p := range m.revoking {
			if cg.owners[p] == m.id {
				delete(cg.owners, p)
			}
		}
		m.revoking = partitionSet{}
		m.state = memberStable
		cg.dirty = true
	}
	target := cg.target[m.id]
	if m.epoch == cg.assignmentEpoch && m.state == memberStable && m.assigned.equal(target) {
		return false
	}
	if revoke := m.assigned.minus(target); len(revoke) > 0 {
		for p := range revoke {
			delete(m.assigned, p)
			delete(m.assignedEpoch, p)
		}
		m.revoking = revoke
		m.state = memberUnrevoked
		m.assignmentChanged = true
		cg.dirty = true
		return true
	}
	if m.epoch != cg.assignmentEpoch {
		m.previousEpoch, m.epoch = m.epoch, cg.assignmentEpoch
		cg.dirty = true
	}
	m.state = memberStable
	for p := range target.minus(m.assigned) {
		if owner, held := cg.owners[p]; held && owner != m.id {
			m.state = memberUnreleased
			continue
		}
		cg.owners[p] = m.id
		m.assigned[p] = struct{}{}
		m.assignedEpoch[p] = m.epoch
		m.assignmentChanged = true
		cg.dirty = true
	}
	return false
}

// release drops everything a member holds, so others may take it.
func (cg *consumerGroup) release(m *consumerMember) {
	for p, owner := range cg.owners {
		if owner == m.id {
			delete(cg.owners, p)
		}
	}
	m.assigned, m.revoking = partitionSet{}, partitionSet{}
	m.assignedEpoch = make(map[topicPartitionID]int32)
}

// remove takes a member out of the group; the group epoch rises and the
// target is computed again without it.
func (cg *consumerGroup) remove(m *consumerMember) {
	m.session.cancel()
	m.revokeTimer.cancel()
	cg.release(m)
	delete(cg.members, m.id)
	delete(cg.target, m.id)
	if m.instanceID != "" && cg.static[m.instanceID] == m.id {
		delete(cg.static, m.instanceID)
	}
	cg.bumpEpoch()
	cg.computeTarget()
}

func (cg *consumerGroup) stopTimers() {
	for _, m := range cg.members {
		m.session.cancel()
		m.revokeTimer.cancel()
	}
}

// replaceStatic gives a static member's place (assignment, epoch) to the
// new member id of a client that restarted.
func (cg *consumerGroup) replaceStatic(old *consumerMember, newID string) *consumerMember {
	old.session.cancel()
	old.revokeTimer.cancel()
	delete(cg.members, old.id)
	oldID := old.id
	old.id = newID
	old.leftStatic = false
	for p, owner := range cg.owners {
		if owner == oldID {
			cg.owners[p] = newID
		}
	}
	cg.target[newID] = cg.target[oldID]
	delete(cg.target, oldID)
	cg.members[newID] = old
	cg.static[old.instanceID] = newID
	old.assignmentChanged = true
	cg.dirty = true
	return old
}

// record is the group's durable form.
func (cg *consumerGroup) record() *ConsumerGroupRecord {
	rec := &ConsumerGroupRecord{Epoch: cg.epoch, AssignmentEpoch: cg.assignmentEpoch, Assignor: cg.assignorName}
	for _, name := range slices.Sorted(maps.Keys(cg.topics)) {
		t := cg.topics[name]
		rec.Topics = append(rec.Topics, ConsumerTopicRecord{Name: t.name, ID: t.id, Partitions: t.partitions})
	}
	for _, m := range cg.sortedMembers() {
		mr := ConsumerMemberRecord{
			MemberID:             m.id,
			InstanceID:           m.instanceID,
			RackID:               m.rackID,
			ClientID:             m.clientID,
			ClientHost:           m.clientHost,
			SubscribedTopicNames: slices.Clone(m.subscribedNames),
			SubscribedTopicRegex: m.regexSource,
			ServerAssignor:       m.assignor,
			RebalanceTimeoutMs:   int32(m.rebalanceTimeout.Milliseconds()),
			MemberEpoch:          m.epoch,
			PreviousMemberEpoch:  m.previousEpoch,
			LeftStatic:           m.leftStatic,
			State:                m.state.String(),
			Assigned:             m.assigned.byTopic(),
			Revoking:             m.revoking.byTopic(),
			Target:               cg.target[m.id].byTopic(),
		}
		if m.classic != nil {
			cr := &ClassicMemberRecord{SessionTimeoutMs: int32(m.classic.sessionTimeout.Milliseconds())}
			for _, p := range m.classic.protocols {
				cr.Protocols = append(cr.Protocols, ClassicProtocolRecord{Name: p.name, Metadata: p.metadata})
			}
			mr.Classic = cr
		}
		for _, t := range mr.Assigned {
			epochs := make([]int32, len(t.Partitions))
			for i, p := range t.Partitions {
				epochs[i] = m.assignedEpoch[topicPartitionID{t.TopicID, p}]
			}
			mr.AssignedEpochs = append(mr.AssignedEpochs, epochs)
		}
		rec.Members = append(rec.Members, mr)
	}
	return rec
}

// restoreConsumerGroup rebuilds a consumer group from its record. Records
// come from outside our control: members without id, duplicates, bad
// regexes and partitions held twice are dropped.
func restoreConsumerGroup(rec *ConsumerGroupRecord, minRebalance time.Duration) *consumerGroup {
	cg := newConsumerGroup(max(rec.Epoch, 0))
	cg.assignmentEpoch = min(max(rec.AssignmentEpoch, 0), cg.epoch)
	cg.assignorName = rec.Assignor
	for _, t := range rec.Topics {
		if t.Name == "" || t.Partitions <= 0 {
			continue
		}
		cg.topics[t.Name] = topicMeta{name: t.Name, id: t.ID, partitions: t.Partitions}
		cg.topicNames[t.ID] = t.Name
	}
	for _, mr := range rec.Members {
		if mr.MemberID == "" || cg.members[mr.MemberID] != nil {
			continue
		}
		m := &consumerMember{
			id:               mr.MemberID,
			instanceID:       mr.InstanceID,
			rackID:           mr.RackID,
			clientID:         mr.ClientID,
			clientHost:       mr.ClientHost,
			subscribedNames:  slices.Sorted(slices.Values(mr.SubscribedTopicNames)),
			assignor:         mr.ServerAssignor,
			rebalanceTimeout: msDuration(mr.RebalanceTimeoutMs),
			epoch:            max(mr.MemberEpoch, 0),
			previousEpoch:    max(mr.PreviousMemberEpoch, 0),
			leftStatic:       mr.LeftStatic,
			state:            parseMemberState(mr.State),
			assigned:         partitionSet{},
			assignedEpoch:    make(map[topicPartitionID]int32),
			revoking:         partitionSet{},
		}
		if m.rebalanceTimeout <= 0 {
			m.rebalanceTimeout = minRebalance
		}
		if cr := mr.Classic; cr != nil && len(cr.Protocols) > 0 {
			m.classic = &classicMember{sessionTimeout: msDuration(cr.SessionTimeoutMs)}
			if m.classic.sessionTimeout <= 0 {
				m.classic.sessionTimeout = minRebalance
			}
			for _, p := range cr.Protocols {
				m.classic.protocols = append(m.classic.protocols, protocolMetadata{name: p.Name, metadata: p.Metadata})
			}
		}
		if mr.SubscribedTopicRegex != "" {
			re, err := compileSubscriptionRegex(mr.SubscribedTopicRegex)
			if err == nil {
				m.regexSource, m.regex = mr.SubscribedTopicRegex, re
			}
		}
		for i, t := range mr.Assigned {
			for j, p := range t.Partitions {
				tp := topicPartitionID{t.TopicID, p}
				if p < 0 || cg.owners[tp] != "" {
					continue
				}
				cg.owners[tp] = m.id
				m.assigned[tp] = struct{}{}
				if i < len(mr.AssignedEpochs) && j < len(mr.AssignedEpochs[i]) {
					m.assignedEpoch[tp] = mr.AssignedEpochs[i][j]
				}
			}
		}
		for tp := range partitionSetOf(mr.Revoking) {
			if cg.owners[tp] == "" {
				cg.owners[tp] = m.id
				m.revoking[tp] = struct{}{}
			}
		}
		if m.state == memberUnrevoked && len(m.revoking) == 0 {
			m.state = memberStable
		}
		cg.members[m.id] = m
		cg.target[m.id] = partitionSetOf(mr.Target)
		if m.instanceID != "" {
			cg.static[m.instanceID] = m.id
		}
	}
	return cg
}
