package groups

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Kafka's defaults for the classic group coordinator (broker configs named
// beside each).
const (
	defaultInitialRebalanceDelay  = 3 * time.Second    // group.initial.rebalance.delay.ms
	defaultMinSessionTimeout      = 6 * time.Second    // group.min.session.timeout.ms
	defaultMaxSessionTimeout      = 30 * time.Minute   // group.max.session.timeout.ms
	defaultOffsetsRetention       = 7 * 24 * time.Hour // offsets.retention.minutes
	defaultRetentionCheckInterval = 10 * time.Minute   // offsets.retention.check.interval.ms
	defaultOffsetMetadataMaxBytes = 4096               // offset.metadata.max.bytes

	// newMemberJoinTimeout bounds how long a member that has never completed
	// a join may wait in a rebalance: such a member cannot heartbeat, so
	// without this a client that gave up would stall the group (Kafka's
	// GroupCoordinator.NewMemberJoinTimeoutMs).
	newMemberJoinTimeout = 5 * time.Minute

	// restoredRejoinGrace is the least time a coordinator that took over a
	// group mid-rebalance gives its members to rejoin (see resumeRebalance):
	// enough for a client to find the new coordinator and to heartbeat.
	restoredRejoinGrace = 10 * time.Second

	// storeTimeout bounds Store calls that are not tied to one request
	// (loads, saves made by timers or that must outlive a client).
	storeTimeout = 10 * time.Second
)

// Options configure a Coordinator. Zero values take Kafka's defaults.
type Options struct {
	Logger *slog.Logger

	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long
	// the first rebalance of an Empty group waits for more members. Zero
	// means Kafka's 3s; a negative value means no delay.
	InitialRebalanceDelay time.Duration

	// MinSessionTimeout and MaxSessionTimeout bound the session timeout a
	// member may ask for (group.min/max.session.timeout.ms: 6s and 30m).
	MinSessionTimeout, MaxSessionTimeout time.Duration

	// OffsetsRetention is how long committed offsets of a group without
	// members are kept (offsets.retention.minutes, 7 days). Negative: forever.
	OffsetsRetention time.Duration
	// OffsetsRetentionCheckInterval is how often expired offsets and empty
	// groups without offsets are removed (10 minutes).
	OffsetsRetentionCheckInterval time.Duration

	// MaxGroupSize is group.max.size; zero means unlimited.
	MaxGroupSize int
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes (4096).
	OffsetMetadataMaxBytes int

	// TopicIDs resolves the topic ids of OffsetCommit and OffsetFetch v10+.
	// Without it those topics are answered UNKNOWN_TOPIC_ID.
	TopicIDs TopicIDResolver

	// ConsumerSessionTimeout is group.consumer.session.timeout.ms (45s):
	// a KIP-848 member that does not heartbeat for that long is removed.
	ConsumerSessionTimeout time.Duration
	// ConsumerHeartbeatInterval is group.consumer.heartbeat.interval.ms
	// (5s), the interval KIP-848 members are told to heartbeat at.
	ConsumerHeartbeatInterval time.Duration
	// ConsumerTopicsRefreshInterval is how often a consumer group reads
	// the cluster's topics again to notice created, deleted and grown
	// topics (1s); a join or a subscription change reads them at once.
	ConsumerTopicsRefreshInterval time.Duration

	// Now replaces time.Now for timestamps (commit times, retention).
	Now func() time.Time

	// Coordinates tells whether this broker coordinates a group of a
	// cluster, when brokers share the groups (placement by
	// dataplane/membership); requests for other groups are answered
	// NOT_COORDINATOR, so that clients look the coordinator up again, and
	// ListGroups lists only these. Nil: every group is this broker's.
	// When the answers change, call PlacementChanged (FollowPlacement
	// does on each change of a membership.Live view).
	Coordinates func(cluster, group string) bool
}

// TopicIDResolver maps a cluster's topic ids to names and back.
type TopicIDResolver interface {
	TopicName(cluster string, id [16]byte) (string, bool)
	TopicID(cluster, topic string) ([16]byte, bool)
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.InitialRebalanceDelay == 0:
		o.InitialRebalanceDelay = defaultInitialRebalanceDelay
	case o.InitialRebalanceDelay < 0:
		o.InitialRebalanceDelay = 0
	}
	if o.MinSessionTimeout <= 0 {
		o.MinSessionTimeout = defaultMinSessionTimeout
	}
	if o.MaxSessionTimeout <= 0 {
		o.MaxSessionTimeout = defaultMaxSessionTimeout
	}
	if o.OffsetsRetention == 0 {
		o.OffsetsRetention = defaultOffsetsRetention
	}
	if o.OffsetsRetentionCheckInterval <= 0 {
		o.OffsetsRetentionCheckInterval = defaultRetentionCheckInterval
	}
	if o.ConsumerSessionTimeout <= 0 {
		o.ConsumerSessionTimeout = defaultConsumerSessionTimeout
	}
	if o.ConsumerHeartbeatInterval <= 0 {
		o.ConsumerHeartbeatInterval = defaultConsumerHeartbeatInterval
	}
	if o.ConsumerTopicsRefreshInterval <= 0 {
		o.ConsumerTopicsRefreshInterval = defaultConsumerTopicsRefresh
	}
	if o.OffsetMetadataMaxBytes <= 0 {
		o.OffsetMetadataMaxBytes = defaultOffsetMetadataMaxBytes
	}
}

// ClientInfo identifies the connection a JoinGroup came from; DescribeGroups
// shows it and member ids are built from the client id.
type ClientInfo struct {
	ClientID, ClientHost string
}

// Coordinator is the classic group coordinator for every cluster a broker
// serves. Groups are keyed by (cluster, group); clusters never see each
// other's groups.
//
// Concurrency: each group has its own mutex (group.mu) guarding its state;
// handlers and timer callbacks of different groups never contend. No mutex is
// held while a request waits for a rebalance or while the Store is called:
// JoinGroup and SyncGroup wait on a per-request channel that the group fills
// under its mutex, and Store writes of one group are ordered by a separate
// one-slot semaphore (group.saveSlot). Timers (sessions, rebalance and sync
// timeouts) are time.AfterFunc callbacks that take the group's mutex and
// ignore a firing made stale by a reset (groupTimer). The three mutexes
// (Coordinator.mu, clusterGroups.mu, group.mu) are never held together.
type Coordinator struct {
	store Store
	log   *slog.Logger
	opts  Options
	clock clock

	// baseCtx is cancelled by Close. Store calls not tied to one request use
	// it, so a client going away cannot abort a save the group depends on.
	baseCtx    context.Context
	cancelBase context.CancelFunc

	mu       sync.Mutex // guards clusters and closed
	clusters map[string]*clusterGroups
	closed   bool

	done    chan struct{}  // closed by Close: waiting requests give up
	running sync.WaitGroup // handlers, timer callbacks and the retention loop in progress
}

// NewCoordinator returns a coordinator persisting through store.
func NewCoordinator(store Store, opts Options) *Coordinator {
	opts.setDefaults()
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return newCoordinator(store, opts, systemClock{nowFunc: now})
}

func newCoordinator(store Store, opts Options, clk clock) *Coordinator {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Coordinator{
		store:      store,
		log:        opts.Logger,
		opts:       opts,
		clock:      clk,
		baseCtx:    ctx,
		cancelBase: cancel,
		clusters:   make(map[string]*clusterGroups),
		done:       make(chan struct{}),
	}
	if opts.OffsetsRetention > 0 {
		c.running.Add(1)
		go c.runRetention()
	}
	return c
}

// Close stops the coordinator: requests waiting for a rebalance are answered
// NOT_COORDINATOR (clients then look the coordinator up again), timers stop,
// and Close returns once every handler and callback in progress has returned.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	clusters := make([]*clusterGroups, 0, len(c.clusters))
	for _, cl := range c.clusters {
		clusters = append(clusters, cl)
	}
	c.mu.Unlock()

	c.cancelBase()
	for _, cl := range clusters {
		for _, g := range cl.snapshot() {
			g.mu.Lock()
			g.stopTimers()
			g.mu.Unlock()
		}
	}
	c.running.Wait()
}

// enter registers a handler or callback so Close waits for it; it reports
// false once the coordinator is closed.
func (c *Coordinator) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.running.Add(1)
	return true
}

func (c *Coordinator) leave() { c.running.Done() }

// coordinates reports whether requests for the group are this broker's to
// answer (Options.Coordinates).
func (c *Coordinator) coordinates(cluster, group string) bool {
	return c.opts.Coordinates == nil || c.opts.Coordinates(cluster, group)
}

// afterFunc runs f after d unless the coordinator is closed by then.
func (c *Coordinator) afterFunc(d time.Duration, f func()) (stop func() bool) {
	return c.clock.afterFunc(d, func() {
		if !c.enter() {
			return
		}
		defer c.leave()
		f()
	})
}

// storeContext is for Store calls that must not depend on one request.
func (c *Coordinator) storeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.baseCtx, storeTimeout)
}

// clusterGroups holds the groups of one cluster, loaded from the Store on
// first access.
type clusterGroups struct {
	name string

	ready   chan struct{} // closed when the load from the Store has finished
	loadErr error         // written before ready is closed

	mu      sync.Mutex // guards the fields below
	groups  map[string]*group
	deleted bool // DeleteCluster is running: no group may be created
	// stale is set when groups may have moved to this broker since they
	// were read from the Store; changes counts placement changes. See
	// PlacementChanged and refresh.
	stale      bool
	changes    uint64
	refreshing chan struct{} // closed when the running refresh ends
}

// loadedCluster returns the cluster's groups, loading them from the Store on
// first access. On failure it returns a Kafka error code.
func (c *Coordinator) loadedCluster(ctx context.Context, name string) (*clusterGroups, int16) {
	c.mu.Lock()
	cl, ok := c.clusters[name]
	if !ok {
		cl = &clusterGroups{name: name, ready: make(chan struct{}), groups: make(map[string]*group)}
		c.clusters[name] = cl
	}
	c.mu.Unlock()

	if !ok {
		// This caller loads; others wait on ready. A failed load is
		// forgotten so that the next request tries again.
		if err := c.loadCluster(cl); err != nil {
			c.log.Warn("load groups", "cluster", name, "err", err)
			c.mu.Lock()
			if c.clusters[name] == cl {
				delete(c.clusters, name)
			}
			c.mu.Unlock()
			cl.loadErr = err
		}
		close(cl.ready)
	}

	select {
	case <-cl.ready:
	case <-ctx.Done():
		return nil, kerr.CoordinatorLoadInProgress.Code
	case <-c.done:
		return nil, kerr.NotCoordinator.Code
	}
	if cl.loadErr != nil {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	if code := c.refresh(ctx, cl); code != 0 {
		return nil, code
	}
	return cl, 0
}

func (c *Coordinator) loadCluster(cl *clusterGroups) error {
	cl.mu.Lock()
	changes := cl.changes
	cl.mu.Unlock()
	restored, err := c.readGroups(cl)
	if err != nil {
		return err
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.changes != changes {
		// The placement changed while reading: groups that moved here
		// may have been written since. The first request reads again.
		cl.stale = true
		return nil
	}
	for name, g := range restored {
		cl.groups[name] = g
	}
	return nil
}

// readGroups reads the cluster's records and restores a group of each.
func (c *Coordinator) readGroups(cl *clusterGroups) (map[string]*group, error) {
	ctx, cancel := c.storeContext()
	defer cancel()
	records, err := c.store.LoadGroups(ctx, cl.name)
	if err != nil {
		return nil, err
	}
	restored := make(map[string]*group, len(records))
	for _, rec := range records {
		if rec.Name == "" {
			continue
		}
		if _, dup := restored[rec.Name]; dup {
			continue
		}
		restored[rec.Name] = c.restoreGroup(cl, rec)
	}
	return restored, nil
}

// refresh, when groups may have moved to this broker since the cluster's
// groups were read (cl.stale), reads the records again and restores the
// groups that are not in memory: those dropped when their coordinator
// changed, and those created elsewhere since. A group still in memory was
// coordinated here throughout, so it is newer than its record. It returns
// a Kafka error code.
func (c *Coordinator) refresh(ctx context.Context, cl *clusterGroups) int16 {
	for {
		cl.mu.Lock()
		if running := cl.refreshing; running != nil {
			// Until it ends, memory may lack groups it will restore.
			cl.mu.Unlock()
			select {
			case <-running:
				continue
			case <-ctx.Done():
				return kerr.CoordinatorLoadInProgress.Code
			case <-c.done:
				return kerr.NotCoordinator.Code
			}
		}
		if !cl.stale {
			cl.mu.Unlock()
			return 0
		}
		done := make(chan struct{})
		cl.refreshing, cl.stale = done, false
		changes := cl.changes
		cl.mu.Unlock()

		restored, err := c.readGroups(cl)

		cl.mu.Lock()
		cl.refreshing = nil
		switch {
		case err != nil:
			cl.stale = true
		case cl.changes != changes:
			// Moved again while reading: the next round reads records
			// at least as new as that change.
			cl.stale = true
		default:
			for name, g := range restored {
				if cl.groups[name] == nil {
					cl.groups[name] = g
				}
			}
		}
		close(done)
		cl.mu.Unlock()
		if err != nil {
			c.log.Warn("reload groups", "cluster", cl.name, "err", err)
			return kerr.CoordinatorNotAvailable.Code
		}
	}
}

// clusterList returns the clusters whose groups are in memory (or loading).
func (c *Coordinator) clusterList() []*clusterGroups {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Collect(maps.Values(c.clusters))
}

// group returns the live group of that name; nil when there is none.
func (cl *clusterGroups) group(c *Coordinator, name string) *group {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if g := cl.groups[name]; g != nil && !g.dead.Load() {
		return g
	}
	return nil
}

// groupOrCreate returns the live group of that name, creating an Empty one
// when there is none, or the code that refuses to: NOT_COORDINATOR when
// this broker no longer coordinates it, COORDINATOR_LOAD_IN_PROGRESS while
// groups that moved here may still be read from the Store (the group may
// be one of them: see refresh), COORDINATOR_NOT_AVAILABLE while the
// cluster is being deleted. Both are checked under cl.mu, which
// PlacementChanged takes after the view changed, so that no request begun
// before a change creates a group that hides (or later overwrites) the
// one in the Store.
func (cl *clusterGroups) groupOrCreate(c *Coordinator, name string) (*group, int16) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if g := cl.groups[name]; g != nil && !g.dead.Load() {
		return g, 0
	}
	switch {
	case cl.deleted:
		return nil, kerr.CoordinatorNotAvailable.Code
	case !c.coordinates(cl.name, name):
		return nil, kerr.NotCoordinator.Code
	case cl.stale || cl.refreshing != nil:
		return nil, kerr.CoordinatorLoadInProgress.Code
	}
	g := newGroup(c, cl, name)
	cl.groups[name] = g
	return g, 0
}

// forget drops g from the cluster unless another group took its name.
func (cl *clusterGroups) forget(name string, g *group) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.groups[name] == g {
		delete(cl.groups, name)
	}
}

func (cl *clusterGroups) snapshot() []*group {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return slices.Collect(maps.Values(cl.groups))
}

// errClosed is returned by DeleteCluster once the coordinator is closed.
var errClosed = errors.New("group coordinator closed")
