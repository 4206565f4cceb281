package groups

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// memStore is an in-memory Store. Setting the fail* fields injects errors.
type memStore struct {
	mu      sync.Mutex
	groups  map[string]map[string]GroupRecord            // cluster → group → record
	offsets map[string]map[string]map[tp]CommittedOffset // cluster → group → partition → offset
	saves   int

	failSave  error
	failLoad  error
	failFetch error
	// beforeLoad, when set, runs at the start of each LoadGroups.
	beforeLoad func()
}

type tp struct {
	topic     string
	partition int32
}

func newMemStore() *memStore {
	return &memStore{
		groups:  make(map[string]map[string]GroupRecord),
		offsets: make(map[string]map[string]map[tp]CommittedOffset),
	}
}

func cloneRecord(r GroupRecord) GroupRecord {
	r.Members = slices.Clone(r.Members)
	for i := range r.Members {
		r.Members[i].Metadata = bytes.Clone(r.Members[i].Metadata)
		r.Members[i].Assignment = bytes.Clone(r.Members[i].Assignment)
	}
	return r
}

func (s *memStore) SaveGroup(_ context.Context, cluster string, g GroupRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSave != nil {
		return s.failSave
	}
	if s.groups[cluster][g.Name].Version != g.Version {
		return ErrGroupFenced
	}
	if s.groups[cluster] == nil {
		s.groups[cluster] = make(map[string]GroupRecord)
	}
	g.Version++
	s.groups[cluster][g.Name] = cloneRecord(g)
	s.saves++
	return nil
}

func (s *memStore) LoadGroups(_ context.Context, cluster string) ([]GroupRecord, error) {
	s.mu.Lock()
	hook := s.beforeLoad
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failLoad != nil {
		return nil, s.failLoad
	}
	var out []GroupRecord
	for _, g := range s.groups[cluster] {
		out = append(out, cloneRecord(g))
	}
	return out, nil
}

func (s *memStore) DeleteGroup(_ context.Context, cluster, group string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.groups[cluster], group)
	return nil
}

func (s *memStore) DeleteGroupAt(ctx context.Context, cluster, group string, version int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[cluster][group].Version != version {
		return ErrGroupFenced
	}
	delete(s.groups[cluster], group)
	delete(s.offsets[cluster], group)
	return nil
}

func (s *memStore) CommitOffsetsAt(ctx context.Context, cluster, group string, version int64, offsets []CommittedOffset) error {
	s.mu.Lock()
	stored := s.groups[cluster][group].Version
	s.mu.Unlock()
	if stored != version {
		return ErrGroupFenced
	}
	return s.CommitOffsets(ctx, cluster, group, offsets)
}

func (s *memStore) CommitOffsets(_ context.Context, cluster, group string, offsets []CommittedOffset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.offsets[cluster] == nil {
		s.offsets[cluster] = make(map[string]map[tp]CommittedOffset)
	}
	if s.offsets[cluster][group] == nil {
		s.offsets[cluster][group] = make(map[tp]CommittedOffset)
	}
	for _, o := range offsets {
		s.offsets[cluster][group][tp{o.Topic, o.Partition}] = o
	}
	return nil
}

func (s *memStore) FetchOffsets(_ context.Context, cluster, group string, topics []string) ([]CommittedOffset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failFetch != nil {
		return nil, s.failFetch
	}
	var out []CommittedOffset
	for k, o := range s.offsets[cluster][group] {
		if topics == nil || slices.Contains(topics, k.topic) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}

func (s *memStore) DeleteOffsets(_ context.Context, cluster, group, topic string, partitions []int32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range partitions {
		delete(s.offsets[cluster][group], tp{topic, p})
	}
	return nil
}

func (s *memStore) record(cluster, group string) (GroupRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.groups[cluster][group]
	return r, ok
}

func (s *memStore) offsetCount(cluster, group string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.offsets[cluster][group])
}

func (s *memStore) setFailSave(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failSave = err
}

var errInjected = errors.New("injected store failure")

// fakeClock drives the coordinator's timers: Advance fires, in order, every
// timer due, on the calling goroutine.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	when time.Time
	f    func()
	done bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) afterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ft := &fakeTimer{when: c.t.Add(d), f: f}
	c.timers = append(c.timers, ft)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !ft.done
		ft.done = true
		return was
	}
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.t.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		live := c.timers[:0]
		for _, ft := range c.timers {
			if ft.done {
				continue
			}
			live = append(live, ft)
			if !ft.when.After(target) && (next == nil || ft.when.Before(next.when)) {
				next = ft
			}
		}
		c.timers = live
		if next == nil {
			c.t = target
			c.mu.Unlock()
			return
		}
		next.done = true
		if next.when.After(c.t) {
			c.t = next.when
		}
		c.mu.Unlock()
		next.f()
	}
}

// harness is a coordinator on a memStore and a fakeClock.
type harness struct {
	t     *testing.T
	c     *Coordinator
	clock *fakeClock
	store *memStore
}

const (
	testCluster      = "lkc-test"
	testSession      = 10 * time.Second
	testRebalance    = 30 * time.Second
	testInitialDelay = 3 * time.Second
)

func newHarness(t *testing.T, store *memStore, opts Options) *harness {
	t.Helper()
	if store == nil {
		store = newMemStore()
	}
	if opts.Logger == nil && testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.InitialRebalanceDelay == 0 {
		opts.InitialRebalanceDelay = testInitialDelay
	}
	opts.setDefaults()
	clock := newFakeClock()
	h := &harness{t: t, c: newCoordinator(store, opts, clock), clock: clock, store: store}
	t.Cleanup(h.c.Close)
	return h
}

// eventually polls cond; the coordinator's goroutines run in real time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// inspect reads a group's state under its lock.
type groupView struct {
	exists       bool
	state        groupState
	generation   int32
	members      int
	awaitingJoin int
	syncWaiting  int
	leader       string
	protocol     string
	pending      int
}

func (h *harness) view(cluster, name string) groupView {
	h.c.mu.Lock()
	cl := h.c.clusters[cluster]
	h.c.mu.Unlock()
	if cl == nil {
		return groupView{}
	}
	g := cl.group(h.c, name)
	if g == nil {
		return groupView{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	v := groupView{exists: true, state: g.state, generation: g.generation, members: len(g.members),
		awaitingJoin: g.awaitingJoin, leader: g.leader, protocol: g.protocol, pending: len(g.pendingMembers)}
	for _, m := range g.members {
		if m.syncWaiter != nil {
			v.syncWaiting++
		}
	}
	return v
}

// client is a test consumer of the classic protocol.
type client struct {
	h          *harness
	cluster    string
	group      string
	clientID   string
	instanceID string
	version    int16
	protocols  []kmsg.JoinGroupRequestProtocol

	memberID   string
	generation int32
	leaderID   string
	protocol   string
	members    []kmsg.JoinGroupResponseMember
	assignment []byte
}

func consumerMetadata(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 1
	m.Topics = topics
	return m.AppendTo(nil)
}

func (h *harness) newClient(group, clientID string, topics ...string) *client {
	if len(topics) == 0 {
		topics = []string{"orders"}
	}
	meta := consumerMetadata(topics...)
	return &client{
		h: h, cluster: testCluster, group: group, clientID: clientID, version: 9,
		protocols: []kmsg.JoinGroupRequestProtocol{
			{Name: "cooperative-sticky", Metadata: meta},
			{Name: "range", Metadata: meta},
		},
		generation: -1,
	}
}

func (cl *client) joinRequest() *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = cl.version
	req.Group = cl.group
	req.SessionTimeoutMillis = int32(testSession.Milliseconds())
	req.RebalanceTimeoutMillis = int32(testRebalance.Milliseconds())
	req.MemberID = cl.memberID
	if cl.instanceID != "" {
		req.InstanceID = kmsg.StringPtr(cl.instanceID)
	}
	req.ProtocolType = "consumer"
	req.Protocols = cl.protocols
	return req
}

// joinOnce sends one JoinGroup and records what it learns.
func (cl *client) joinOnce(ctx context.Context) *kmsg.JoinGroupResponse {
	resp := cl.h.c.JoinGroup(ctx, cl.cluster, ClientInfo{ClientID: cl.clientID, ClientHost: "/10.0.0.1"}, cl.joinRequest())
	cl.absorb(resp)
	return resp
}

func (cl *client) absorb(resp *kmsg.JoinGroupResponse) {
	if resp.MemberID != "" {
		cl.memberID = resp.MemberID
	}
	if resp.ErrorCode == 0 {
		cl.generation = resp.Generation
		cl.leaderID = resp.LeaderID
		cl.protocol = derefString(resp.Protocol)
		cl.members = resp.Members
	}
}

// joinAsync sends a JoinGroup that may block; the response arrives on the
// channel (and is absorbed before).
func (cl *client) joinAsync(ctx context.Context) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	req := cl.joinRequest()
	go func() {
		ch <- cl.h.c.JoinGroup(ctx, cl.cluster, ClientInfo{ClientID: cl.clientID, ClientHost: "/10.0.0.1"}, req)
	}()
	return ch
}

func (cl *client) syncRequest(assignments map[string][]byte) *kmsg.SyncGroupRequest {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group = cl.group
	req.Generation = cl.generation
	req.MemberID = cl.memberID
	if cl.instanceID != "" {
		req.InstanceID = kmsg.StringPtr(cl.instanceID)
	}
	req.ProtocolType = kmsg.StringPtr("consumer")
	req.Protocol = kmsg.StringPtr(cl.protocol)
	for id, a := range assignments {
		req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: a})
	}
	return req
}

func (cl *client) syncAsync(ctx context.Context, assignments map[string][]byte) <-chan *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	req := cl.syncRequest(assignments)
	go func() { ch <- cl.h.c.SyncGroup(ctx, cl.cluster, req) }()
	return ch
}

func (cl *client) heartbeat() int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group = cl.group
	req.Generation = cl.generation
	req.MemberID = cl.memberID
	if cl.instanceID != "" {
		req.InstanceID = kmsg.StringPtr(cl.instanceID)
	}
	return cl.h.c.Heartbeat(context.Background(), cl.cluster, req).ErrorCode
}

func (cl *client) commit(topic string, partition int32, offset int64) int16 {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 9
	req.Group = cl.group
	req.Generation = cl.generation
	req.MemberID = cl.memberID
	if cl.instanceID != "" {
		req.InstanceID = kmsg.StringPtr(cl.instanceID)
	}
	req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: partition, Offset: offset, LeaderEpoch: -1}}}}
	resp := cl.h.c.OffsetCommit(context.Background(), cl.cluster, req)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func assertPending[T any](t *testing.T, what string, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s returned early: %+v", what, v)
	case <-time.After(20 * time.Millisecond):
	}
}

// stableGroup forms a Stable group of the clients: the MEMBER_ID_REQUIRED
// round trip, a join through the initial delay, and the leader's
// assignment (each member gets its own id as assignment).
func (h *harness) stableGroup(clients ...*client) {
	h.t.Helper()
	ctx := context.Background()
	for _, cl := range clients {
		if cl.instanceID == "" && cl.version >= 4 {
			if resp := cl.joinOnce(ctx); resp.ErrorCode != kerr.MemberIDRequired.Code {
				h.t.Fatalf("first join of %s: error %d, want MEMBER_ID_REQUIRED", cl.clientID, resp.ErrorCode)
			}
		}
	}
	var joins []<-chan *kmsg.JoinGroupResponse
	for _, cl := range clients {
		joins = append(joins, cl.joinAsync(ctx))
	}
	group := clients[0].group
	eventually(h.t, "all members joined", func() bool { return h.view(testCluster, group).awaitingJoin == len(clients) })
	// Members joining during the initial delay extend it once.
	h.clock.Advance(2 * testInitialDelay)
	for i, cl := range clients {
		resp := receive(h.t, "join response", joins[i])
		if resp.ErrorCode != 0 {
			h.t.Fatalf("join of %s: error %d", cl.clientID, resp.ErrorCode)
		}
		cl.absorb(resp)
	}
	h.syncAll(clients...)
}

// syncAll syncs the clients; the leader assigns each member its own id.
func (h *harness) syncAll(clients ...*client) {
	h.t.Helper()
	ctx := context.Background()
	var syncs []<-chan *kmsg.SyncGroupResponse
	for _, cl := range clients {
		var assignments map[string][]byte
		if cl.memberID == cl.leaderID {
			assignments = make(map[string][]byte)
			for _, m := range cl.members {
				assignments[m.MemberID] = []byte("assigned:" + m.MemberID)
			}
		}
		syncs = append(syncs, cl.syncAsync(ctx, assignments))
	}
	for i, cl := range clients {
		resp := receive(h.t, "sync response", syncs[i])
		if resp.ErrorCode != 0 {
			h.t.Fatalf("sync of %s: error %d", cl.clientID, resp.ErrorCode)
		}
		cl.assignment = resp.MemberAssignment
	}
}
