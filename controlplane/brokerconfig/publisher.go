package brokerconfig

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// Full snapshots, not deltas: every message a watcher gets is the whole
// state, so a broker's state is a function of the last message it
// received, there is no gap to detect after a reconnect, and what it
// persists is one message. The cost is O(state) per change; changes that
// arrive while a snapshot is built are folded into the next build, so a
// burst of writes costs a couple of snapshots, not one per write. When
// fleets outgrow that, deltas keyed by version can be added without
// changing what a snapshot is.

// DefaultResync is how often a snapshot is rebuilt without a cue: the
// safety net for writes this process was not told of (another control
// plane sharing the database, a JWKS an identity provider rotated).
const DefaultResync = 5 * time.Second

// minBuildGap spaces builds under a stream of writes.
const minBuildGap = 10 * time.Millisecond

// Publisher builds snapshots of what brokers need and hands the newest to
// every watcher. One goroutine (Run) builds; watchers read under mu.
type Publisher struct {
	build   func(ctx context.Context) (*bpb.BrokerSnapshot, error)
	commits func() uint64
	resync  time.Duration
	log     *slog.Logger
	cue     chan struct{}
	running atomic.Bool // set while Run builds

	mu      sync.Mutex // guards the fields below
	current *bpb.BrokerSnapshot
	// changed is closed (and replaced) when current is replaced.
	changed chan struct{}
	// built is the commit count read before the newest build started:
	// every write committed by then is in current. builtCh is closed (and
	// replaced) when built moves.
	built   uint64
	builtCh chan struct{}
}

// NewPublisher returns a publisher of the snapshots build makes. commits
// counts the store's committed writes (store.Store.Commits), so that
// WaitPublished can tell which writes a snapshot holds.
func NewPublisher(build func(ctx context.Context) (*bpb.BrokerSnapshot, error), commits func() uint64, resync time.Duration, log *slog.Logger) *Publisher {
	if resync <= 0 {
		resync = DefaultResync
	}
	if log == nil {
		log = slog.Default()
	}
	return &Publisher{build: build, commits: commits, resync: resync, log: log,
		cue: make(chan struct{}, 1), changed: make(chan struct{}), builtCh: make(chan struct{})}
}

// Notify asks for a new snapshot soon (a write committed). It never blocks.
func (p *Publisher) Notify() {
	select {
	case p.cue <- struct{}{}:
	default:
	}
}

// Latest returns the newest snapshot (nil before the first build) and a
// channel closed when a newer one replaces it.
func (p *Publisher) Latest() (*bpb.BrokerSnapshot, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current, p.changed
}

// WaitPublished waits until every write committed so far is in the
// published snapshot, or ctx ends. The API calls it before answering, so
// that a client told "created" finds brokers knowing it.
func (p *Publisher) WaitPublished(ctx context.Context) {
	if !p.running.Load() {
		return
	}
	want := p.commits()
	for {
		p.mu.Lock()
		built, ch := p.built, p.builtCh
		p.mu.Unlock()
		if built >= want {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// Run builds snapshots on cue and every resync period until ctx ends.
func (p *Publisher) Run(ctx context.Context) {
	p.running.Store(true)
	defer p.running.Store(false)
	tick := time.NewTicker(p.resync)
	defer tick.Stop()
	for {
		seq := p.commits()
		snap, err := p.build(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			p.log.Warn("broker config snapshot failed", "err", err)
		case err == nil:
			p.publish(snap, seq)
		}
		select {
		case <-ctx.Done():
			return
		case <-p.cue:
		case <-tick.C:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(minBuildGap):
		}
	}
}

// publish makes snap current if it differs from the current one, with a
// version above it, and records that writes up to seq are in it.
//
// Ordering across control-plane replicas rests on snap's StoreSequence
// (the shared database's write count the build read at), not on the
// version: each replica's versions come from its own clock, and a broker
// moving from one replica to another must neither take an older state
// (a snapshot from before a revocation) nor refuse a newer one because
// the other replica's clock runs behind. When only the sequence moved
// (writes brokers do not see) the current snapshot stays, with its older
// sequence: its content is also the state at the newer one.
func (p *Publisher) publish(snap *bpb.BrokerSnapshot, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current == nil || !sameContent(p.current, snap) {
		// A hybrid clock: wall time keeps versions rising across restarts
		// of the control plane; +1 keeps them rising within one.
		version := uint64(time.Now().UnixNano())
		if p.current != nil && version <= p.current.GetVersion() {
			version = p.current.GetVersion() + 1
		}
		snap = proto.CloneOf(snap) // what build returned stays the builder's
		snap.Version = version
		snap.CreateTime = timestamppb.Now()
		p.current = snap
		close(p.changed)
		p.changed = make(chan struct{})
	}
	if seq > p.built || p.built == 0 {
		p.built = seq
		close(p.builtCh)
		p.builtCh = make(chan struct{})
	}
}

// sameContent compares two snapshots but for their version, time and
// store sequence.
func sameContent(a, b *bpb.BrokerSnapshot) bool {
	ac, bc := proto.CloneOf(a), proto.CloneOf(b)
	ac.Version, bc.Version = 0, 0
	ac.CreateTime, bc.CreateTime = nil, nil
	ac.StoreSequence, bc.StoreSequence = 0, 0
	return proto.Equal(ac, bc)
}
