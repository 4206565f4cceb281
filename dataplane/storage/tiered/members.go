package tiered

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/affluent-io/affluent/dataplane/membership"
)

// Broker membership: every broker sharing the metadata DB holds a lease
// (a broker_leases row) that it renews every HeartbeatInterval and that
// lapses LeaseTTL after the last renewal, by the DB's clock. Every change
// of the set of leases or of an address raises the generation kept in
// id_sequences; all membership transactions first lock that row, so they
// run one at a time and the generation orders them. A lease that lapsed
// is removed by the next broker to renew, so the view every broker reads
// is the table itself: brokers reading the same generation route alike.

// Defaults of MemberConfig.
const (
	DefaultHeartbeatInterval = 500 * time.Millisecond
	DefaultLeaseTTL          = 3 * time.Second
)

// MemberConfig describes the broker that registers.
type MemberConfig struct {
	// NodeID is the broker's id, or -1: the one kept in IdentityFile, else
	// the smallest id no broker holds, claimed and then kept there.
	NodeID int32
	// IdentityFile, in the broker's data directory, keeps its node id and
	// its owner identity across restarts, so that a broker restarted
	// before its old lease lapsed takes its own id back at once. Empty: a
	// new identity per process, which must wait for the old lease to lapse.
	IdentityFile string
	// Host and Port are what clients are told; Rack is reported as is.
	Host string
	Port int32
	Rack string
	// Listeners are the advertised addresses of every Kafka listener, by
	// name: clients are told the ones of the listener they came through.
	Listeners []membership.Listener
	// HeartbeatInterval is how often the lease is renewed and the view
	// read; LeaseTTL how long a lease outlives its last renewal.
	HeartbeatInterval time.Duration
	LeaseTTL          time.Duration
	// OnChange, when set, is called from the heartbeat goroutine with each
	// new view, after Live holds it.
	OnChange func(old, cur membership.View)

	// beforeRenew, when set (by tests), runs on the heartbeat goroutine
	// before each renewal: blocking in it stalls the lease as a paused
	// process or a lost DB would, while requests go on being served.
	beforeRenew func()
}

func (c *MemberConfig) setDefaults() {
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
}

func (c *MemberConfig) validate() error {
	var errs []error
	if c.NodeID < -1 {
		errs = append(errs, fmt.Errorf("node id %d: must be >= 0, or -1 to claim one", c.NodeID))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d: must be 0..65535", c.Port))
	}
	if c.LeaseTTL < 2*c.HeartbeatInterval {
		errs = append(errs, fmt.Errorf("lease TTL %v: must be at least twice the heartbeat interval %v", c.LeaseTTL, c.HeartbeatInterval))
	}
	return errors.Join(errs...)
}

// ErrNodeIDTaken is returned by Register when another live broker holds the
// node id asked for until the registration gives up.
var ErrNodeIDTaken = errors.New("node id held by another live broker")

// ErrLeaseLost is why a lease stopped (Lease.Lost): while this broker's
// lease had lapsed, another process took its node id (a new broker, or
// this same broker restarted from its data directory).
var ErrLeaseLost = errors.New("broker lease lost: node id taken by another process")

// Lease is this broker's membership: its node id, renewed in the
// background, and the view of live brokers it last read.
type Lease struct {
	s           *Store
	cfg         MemberConfig
	log         *slog.Logger
	owner       string // stable identity of the broker
	incarnation string // random per Register
	self        int32
	listeners   string // cfg.Listeners as stored: JSON, sorted by name
	live        *membership.Live

	stop      chan struct{}
	done      chan struct{}
	lost      chan struct{} // closed when the node id was taken: see Lost
	stopOnce  sync.Once
	closeOnce sync.Once
}

// identity is what IdentityFile holds.
type identity struct {
	NodeID int32  `json:"node_id"`
	Owner  string `json:"owner"`
}

// Register takes a lease for this broker and starts renewing it until
// Close (or the store closes). It waits, up to twice LeaseTTL or until ctx
// ends, for a node id held by a broker that stopped without letting go.
func (s *Store) Register(ctx context.Context, cfg MemberConfig) (*Lease, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("membership config: %w", err)
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	l := &Lease{s: s, cfg: cfg, log: s.log.With("component", "membership"), self: cfg.NodeID,
		incarnation: randomHex(8), stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{})}
	if len(cfg.Listeners) > 0 {
		sorted := slices.SortedFunc(slices.Values(cfg.Listeners), func(a, b membership.Listener) int {
			return strings.Compare(a.Name, b.Name)
		})
		raw, err := json.Marshal(sorted)
		if err != nil {
			return nil, fmt.Errorf("membership config: listeners: %w", err)
		}
		l.listeners = string(raw)
	}
	id, err := readIdentity(cfg.IdentityFile)
	if err != nil {
		return nil, err
	}
	l.owner = id.Owner
	if l.owner == "" {
		l.owner = randomHex(16)
	}
	if l.self < 0 && id.Owner != "" {
		l.self = id.NodeID
	}

	giveUp := time.Now().Add(2 * cfg.LeaseTTL)
	var view membership.View
	var renewed time.Time
	for {
		renewed = time.Now()
		view, err = l.renew(ctx, false)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNodeIDTaken) || time.Now().After(giveUp) {
			return nil, fmt.Errorf("register broker %d: %w", l.self, err)
		}
		select {
		case <-time.After(cfg.HeartbeatInterval):
		case <-ctx.Done():
			return nil, fmt.Errorf("register broker %d: %w (%w)", l.self, ErrNodeIDTaken, ctx.Err())
		}
	}
	if cfg.IdentityFile != "" && (id.NodeID != l.self || id.Owner != l.owner) {
		if err := writeIdentity(cfg.IdentityFile, identity{NodeID: l.self, Owner: l.owner}); err != nil {
			_ = l.release(ctx)
			return nil, err
		}
	}
	l.live = membership.NewLive(l.self, view)
	l.live.SetDeadline(renewed.Add(cfg.LeaseTTL))
	if cfg.OnChange != nil {
		l.live.OnChange(cfg.OnChange)
	}
	l.log.Info("broker registered", "node_id", l.self, "generation", view.Generation, "brokers", len(view.Brokers))
	go l.run()
	return l, nil
}

// NodeID is this broker's id.
func (l *Lease) NodeID() int32 { return l.self }

// Live holds the view of live brokers, as of the last renewal. Once the
// lease may have lapsed (no renewal for LeaseTTL, timed from when the last
// successful one started, so earlier than the DB can judge it lapsed), the
// view leaves this broker out until it renews.
func (l *Lease) Live() *membership.Live { return l.live }

// Lost is closed when the lease is lost for good (ErrLeaseLost): another
// process took this broker's node id while its lease had lapsed. The
// lease is no longer renewed and the view leaves this broker out; the
// broker must stop, as it cannot serve under an id another one holds.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Close stops renewing and gives the lease up, so that other brokers take
// over at once rather than after LeaseTTL. Calls after the first do
// nothing.
func (l *Lease) Close(ctx context.Context) error {
	var err error
	l.closeOnce.Do(func() {
		l.halt()
		err = l.release(ctx)
	})
	return err
}

// halt stops the renewals and waits for them, leaving the lease to lapse.
func (l *Lease) halt() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

func (l *Lease) run() {
	defer close(l.done)
	t := time.NewTicker(l.cfg.HeartbeatInterval)
	defer t.Stop()
	// healthySince is when renewals last started to succeed in a row. A
	// broker removes lapsed leases of others only once it has been
	// renewing for a whole TTL itself: after the DB comes back from an
	// outage every lease looks lapsed, and each broker must be given the
	// time to renew its own before anyone is declared gone.
	healthySince := time.Now()
	failing, lapsed := false, false
	for {
		select {
		case <-l.stop:
			return
		case <-l.s.stopping:
			return
		case <-t.C:
		}
		if l.cfg.beforeRenew != nil {
			l.cfg.beforeRenew()
		}
		// A lapse is acted on before renewing: after a pause longer than
		// the TTL, what this broker coordinated may have moved already.
		if l.live.CheckLapse() && !lapsed {
			l.log.Warn("broker lease lapsed: leading and coordinating nothing until renewed", "node_id", l.self)
			lapsed = true
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(l.s.bg, l.cfg.LeaseTTL)
		view, err := l.renew(ctx, !healthySince.IsZero() && time.Since(healthySince) >= l.cfg.LeaseTTL)
		cancel()
		if errors.Is(err, ErrLeaseLost) {
			l.log.Error("broker lease lost: another process took this broker's node id while its lease had lapsed; "+
				"this broker must stop", "node_id", l.self, "err", err)
			l.live.CheckLapse()
			close(l.lost)
			return
		}
		if err != nil {
			if !failing {
				l.log.Warn("broker lease renewal failing", "node_id", l.self, "err", err)
			}
			failing, healthySince = true, time.Time{}
			l.live.CheckLapse()
			continue
		}
		if failing || lapsed {
			l.log.Info("broker lease renewed again", "node_id", l.self, "generation", view.Generation)
		}
		lapsed = false
		failing = false
		if healthySince.IsZero() {
			healthySince = time.Now()
		}
		if old := l.live.View(); l.live.Set(view) {
			l.log.Info("broker membership changed", "generation", view.Generation, "brokers", nodeIDs(view),
				"was", nodeIDs(old))
		}
		l.live.SetDeadline(start.Add(l.cfg.LeaseTTL))
	}
}

func nodeIDs(v membership.View) []int32 {
	ids := make([]int32, len(v.Brokers))
	for i, b := range v.Brokers {
		ids[i] = b.NodeID
	}
	return ids
}

// leaseRow is one row of broker_leases.
type leaseRow struct {
	nodeID             int32
	owner, incarnation string
	host               string
	port               int32
	rack               string
	listeners          string // JSON of []membership.Listener, or ''
	expiresMs          int64
}

// nowMillisSQL is the DB's clock in Unix milliseconds: leases of brokers
// on different machines are judged by one clock.
func (db *metaDB) nowMillisSQL() string {
	if db.dialect.name == "postgres" {
		return `SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`
	}
	return `SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`
}

// renew writes this broker's lease (claiming a node id when it has none),
// removes lapsed leases of others when sweep is set, raises the
// generation if anything changed, and returns the view.
func (l *Lease) renew(ctx context.Context, sweep bool) (membership.View, error) {
	db := l.s.db
	var view membership.View
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var gen int64
		if err := tx.QueryRowContext(ctx, `SELECT next_value FROM id_sequences WHERE name = 'broker_generation'`+
			db.dialect.forUpdate).Scan(&gen); err != nil {
			return fmt.Errorf("lock broker generation: %w", err)
		}
		var now int64
		if err := tx.QueryRowContext(ctx, db.nowMillisSQL()).Scan(&now); err != nil {
			return fmt.Errorf("read DB clock: %w", err)
		}
		rows, err := readLeases(ctx, tx)
		if err != nil {
			return err
		}
		if l.self < 0 {
			l.self = claimNodeID(rows, l.owner)
		}
		changed := false
		expires := now + l.cfg.LeaseTTL.Milliseconds()
		mine := leaseRow{nodeID: l.self, owner: l.owner, incarnation: l.incarnation,
			host: l.cfg.Host, port: l.cfg.Port, rack: l.cfg.Rack, listeners: l.listeners, expiresMs: expires}
		i := slices.IndexFunc(rows, func(r leaseRow) bool { return r.nodeID == l.self })
		switch {
		case i < 0:
			if _, err := tx.ExecContext(ctx, `INSERT INTO broker_leases (node_id, owner, incarnation, host, port, rack,
				listeners, expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, mine.nodeID, mine.owner, mine.incarnation,
				mine.host, mine.port, mine.rack, mine.listeners, mine.expiresMs); err != nil {
				return fmt.Errorf("insert lease of broker %d: %w", l.self, err)
			}
			rows = append(rows, mine)
			changed = true
		case l.live != nil && rows[i].incarnation != l.incarnation:
			// Registered, yet the row is another process's: it took the
			// id after this lease lapsed and was removed.
			return fmt.Errorf("%w: broker %d now held by owner %s", ErrLeaseLost, l.self, rows[i].owner)
		case rows[i].owner != l.owner && rows[i].expiresMs >= now:
			return fmt.Errorf("%w: broker %d (lease for %v more)", ErrNodeIDTaken, l.self,
				time.Duration(rows[i].expiresMs-now)*time.Millisecond)
		default:
			// Ours (this process, or an earlier one of the same broker),
			// or another broker's lapsed lease.
			old := rows[i]
			if _, err := tx.ExecContext(ctx, `UPDATE broker_leases SET owner = $1, incarnation = $2, host = $3,
				port = $4, rack = $5, listeners = $6, expires_ms = $7 WHERE node_id = $8`, mine.owner, mine.incarnation,
				mine.host, mine.port, mine.rack, mine.listeners, mine.expiresMs, mine.nodeID); err != nil {
				return fmt.Errorf("renew lease of broker %d: %w", l.self, err)
			}
			rows[i] = mine
			changed = old.owner != mine.owner || old.host != mine.host || old.port != mine.port || old.rack != mine.rack ||
				old.listeners != mine.listeners
		}
		if sweep {
			kept := rows[:0]
			for _, r := range rows {
				if r.nodeID == l.self || r.expiresMs >= now {
					kept = append(kept, r)
					continue
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM broker_leases WHERE node_id = $1 AND incarnation = $2`,
					r.nodeID, r.incarnation); err != nil {
					return fmt.Errorf("remove lapsed lease of broker %d: %w", r.nodeID, err)
				}
				l.log.Info("broker lease lapsed", "node_id", r.nodeID, "host", r.host, "port", r.port,
					"lapsed_for", time.Duration(now-r.expiresMs)*time.Millisecond)
				changed = true
			}
			rows = kept
		}
		if changed {
			if err := tx.QueryRowContext(ctx, `UPDATE id_sequences SET next_value = next_value + 1
				WHERE name = 'broker_generation' RETURNING next_value`).Scan(&gen); err != nil {
				return fmt.Errorf("raise broker generation: %w", err)
			}
		}
		view = leaseView(gen, rows)
		return nil
	})
	return view, err
}

// release removes this broker's lease, raising the generation; a lease
// already removed (or taken by another process) is left alone.
func (l *Lease) release(ctx context.Context) error {
	db := l.s.db
	released := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT next_value FROM id_sequences WHERE name = 'broker_generation'`+
			db.dialect.forUpdate); err != nil {
			return fmt.Errorf("lock broker generation: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM broker_leases WHERE node_id = $1 AND incarnation = $2`,
			l.self, l.incarnation)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		released = true
		_, err = tx.ExecContext(ctx, `UPDATE id_sequences SET next_value = next_value + 1 WHERE name = 'broker_generation'`)
		return err
	})
	if err != nil {
		return fmt.Errorf("release lease of broker %d: %w", l.self, err)
	}
	if released {
		l.log.Info("broker lease released", "node_id", l.self)
	}
	return nil
}

func readLeases(ctx context.Context, tx *sql.Tx) ([]leaseRow, error) {
	rows, err := tx.QueryContext(ctx, `SELECT node_id, owner, incarnation, host, port, rack, listeners, expires_ms
		FROM broker_leases ORDER BY node_id`)
	if err != nil {
		return nil, fmt.Errorf("read broker leases: %w", err)
	}
	defer rows.Close()
	var out []leaseRow
	for rows.Next() {
		var r leaseRow
		if err := rows.Scan(&r.nodeID, &r.owner, &r.incarnation, &r.host, &r.port, &r.rack, &r.listeners, &r.expiresMs); err != nil {
			return nil, fmt.Errorf("scan broker lease: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read broker leases: %w", err)
	}
	return out, nil
}

// claimNodeID picks the id of a broker without one: an id this owner held
// before, else the smallest id nobody holds (a lapsed lease's id stays its
// broker's until that lease is removed).
func claimNodeID(rows []leaseRow, owner string) int32 {
	for _, r := range rows {
		if r.owner == owner {
			return r.nodeID
		}
	}
	id := int32(0)
	for _, r := range rows { // sorted by node id
		if r.nodeID == id {
			id++
		}
	}
	return id
}

func leaseView(gen int64, rows []leaseRow) membership.View {
	v := membership.View{Generation: gen, Brokers: make([]membership.Broker, 0, len(rows))}
	for _, r := range rows {
		b := membership.Broker{NodeID: r.nodeID, Host: r.host, Port: r.port, Rack: r.rack}
		if r.listeners != "" {
			// A damaged list is dropped: clients are then told Host and
			// Port, as for a broker that registered none.
			_ = json.Unmarshal([]byte(r.listeners), &b.Listeners)
		}
		v.Brokers = append(v.Brokers, b)
	}
	slices.SortFunc(v.Brokers, func(a, b membership.Broker) int { return int(a.NodeID) - int(b.NodeID) })
	return v
}

func readIdentity(path string) (identity, error) {
	if path == "" {
		return identity{}, nil
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return identity{}, nil
	}
	if err != nil {
		return identity{}, fmt.Errorf("read broker identity: %w", err)
	}
	var id identity
	if err := json.Unmarshal(raw, &id); err != nil || id.Owner == "" || id.NodeID < 0 {
		return identity{}, fmt.Errorf("broker identity %s is damaged (%v): remove it to claim a new node id", path, err)
	}
	return id, nil
}

// writeIdentity replaces the identity file atomically.
func writeIdentity(path string, id identity) error {
	raw, err := json.Marshal(id)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write broker identity: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write broker identity: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write broker identity: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
