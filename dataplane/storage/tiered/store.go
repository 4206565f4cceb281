// Package tiered is the durable dataplane storage engine: partition logs in
// WAL objects and segments on object storage (gocloud.dev/blob: file://,
// s3://), and everything that says what those objects mean — topics,
// partition offsets, chunk and segment locations, idempotent-producer
// state, consumer groups and committed offsets — in a metadata DB (SQLite,
// or PostgreSQL for brokers that share one).
//
// The write path groups batches from every partition of every cluster for a
// short linger into one WAL object, writes it (durably: fsync for file://),
// then commits one metadata transaction that checks producer sequences,
// assigns offsets and records chunk locations. Only then is Append answered.
// Offsets are assigned at commit, so Read rewrites each batch's baseOffset
// (outside the batch CRC) when it serves it.
//
// The compactor (compactor.go) then moves each partition's WAL chunks into
// per-partition segments indexed in the metadata DB, applies retention and
// cleanup.policy=compact, and deletes objects nothing points at any more.
// Reads are served from the tail cache, a read-ahead cache, an optional
// local disk tier, or object storage.
//
// With PostgreSQL, stores on several brokers may share the metadata DB and
// the bucket: offsets, sequences and compaction swaps are decided under row
// locks. Each store's in-memory tail index follows its own commits, so a
// partition should have one writing broker at a time (which routing
// gives); other brokers' commits reach it through the DB (sharedtail.go:
// reads past its view, and polling of partitions fetches wait on). Brokers
// hold leases there too (members.go), whose view routing is computed from.
package tiered

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/storage"
)

var (
	_ storage.Catalog = (*Store)(nil)
	_ storage.Log     = (*Store)(nil)
	_ groups.Store    = (*Store)(nil)
)

// Defaults of Config.
const (
	DefaultLinger         = 2 * time.Millisecond
	DefaultMaxBufferBytes = 4 << 20
	DefaultCacheBytes     = 256 << 20
	// defaultMaxInflight is how many WAL objects may be uploading or
	// committing at once; while all slots are busy the write buffer keeps
	// growing, so group commit adapts to a slow store.
	defaultMaxInflight = 4

	// DefaultCompactionInterval is the pause between compactor passes.
	DefaultCompactionInterval = 30 * time.Second
	// DefaultCompactionWorkers is how many partitions a pass works on at
	// once.
	DefaultCompactionWorkers = 2
	// DefaultWALHold keeps the newest data in the WAL a little, so that
	// consumers at the tail keep reading it from memory through the chunk
	// index they hold.
	DefaultWALHold = 10 * time.Second
	// DefaultSegmentBytes and DefaultSegmentAge are segment.bytes and
	// segment.ms for topics that set neither. Kafka's are 1 GiB and 7
	// days, sized for local disks. On object storage a segment is rewritten
	// whole by merges and cleaning, and retention drops whole segments, so
	// smaller segments keep both cheap and retention close to its limit,
	// while still large enough that one object holds a partition's hour.
	DefaultSegmentBytes = storage.DefaultSegmentBytes
	DefaultSegmentAge   = storage.DefaultSegmentAge
	// DefaultSegmentIndexBytes is the spacing of a segment's sparse offset
	// and time index: one entry (a block, one range read) per this many
	// bytes, about what one fetch asks of a partition.
	DefaultSegmentIndexBytes = 1 << 20
	// DefaultCleanerMemoryBytes bounds the key map of one cleaning of a
	// cleanup.policy=compact partition (about 600,000 distinct keys); a
	// dirty section with more keys is cleaned over several passes.
	DefaultCleanerMemoryBytes = 32 << 20
	// DefaultGCGrace is how long an object nothing points at any more is
	// kept, so that reads that looked it up just before finish (Kafka's
	// file.delete.delay.ms is one minute).
	DefaultGCGrace = 2 * time.Minute
	// DefaultOrphanGrace is the age after which an object that was never
	// committed (an upload whose commit failed, a segment of a compaction
	// that crashed) or a leftover temp file is deleted. A WAL object or
	// segment older than half of it is never committed.
	DefaultOrphanGrace = 30 * time.Minute
	// minOrphanGrace leaves a WAL object half of it between being named
	// (spare writers are opened ahead) and its commit: an upload timeout
	// and a slow commit.
	minOrphanGrace = 5 * time.Minute
	// DefaultOrphanScanInterval is how often a pass also lists the bucket
	// for orphans.
	DefaultOrphanScanInterval = 10 * time.Minute
	// DefaultReadAheadChunks and DefaultReadAheadBytes: a consumer reading
	// old data from segments has the next blocks fetched while it is served
	// the current one, into a memory cache of this size.
	DefaultReadAheadChunks = 4
	DefaultReadAheadBytes  = 64 << 20
	// DefaultLocalCacheBytes bounds the local disk tier when LocalCacheDir
	// is set.
	DefaultLocalCacheBytes = 1 << 30
	// DefaultObjectAttempts is how many times an object store call is tried
	// before its storage.ErrUnavailable reaches the caller.
	DefaultObjectAttempts = 4
)

// Config configures a Store.
type Config struct {
	// ObjectStoreURL is a gocloud.dev/blob URL: file:///abs/dir or
	// s3://bucket?region=…[&endpoint=http://host:port&use_path_style=true]
	// (credentials from the usual AWS environment).
	ObjectStoreURL string
	// MetadataURL is sqlite:///abs/path/meta.db, a plain file path, or
	// postgres://user@host/db?… (brokers sharing it share the data).
	MetadataURL string
	// SharedMetadata says other processes write a SQLite metadata DB too
	// (several brokers on one machine sharing one file): this store then
	// reads their commits as it does a shared PostgreSQL DB's. A
	// PostgreSQL DB is always taken as shared.
	SharedMetadata bool
	// Linger is how long the first batch of a flush waits for company.
	Linger time.Duration
	// MaxBufferBytes flushes early when this many bytes are buffered; it
	// also bounds a WAL object (a single larger batch gets its own).
	MaxBufferBytes int
	// CacheBytes bounds the in-memory cache of recently written or read
	// chunks that keeps tail consumers off object storage.
	CacheBytes int64

	// CompactionInterval is the pause between passes of the background
	// compactor (WAL to segments, retention, cleanup.policy=compact, GC).
	// Negative: no background compactor (Compact still works).
	CompactionInterval time.Duration
	// CompactionWorkers is how many partitions a pass compacts at once.
	CompactionWorkers int
	// WALHold is how long committed data stays in the WAL before the
	// compactor moves it into segments.
	WALHold time.Duration
	// DefaultSegmentBytes and DefaultSegmentAge stand for the topic configs
	// segment.bytes and segment.ms when a topic does not set them.
	DefaultSegmentBytes int64
	DefaultSegmentAge   time.Duration
	// SegmentIndexBytes is the spacing of the entries of a segment's
	// offset and time index (kept in the metadata DB).
	SegmentIndexBytes int64
	// CleanerMemoryBytes bounds the key map of one cleaning.
	CleanerMemoryBytes int64
	// GCGrace is how long an unreferenced object is kept before deletion.
	GCGrace time.Duration
	// OrphanGrace is the age after which objects never committed, and temp
	// files, are deleted; OrphanScanInterval how often they are looked for.
	OrphanGrace        time.Duration
	OrphanScanInterval time.Duration

	// ReadAheadChunks is how many blocks past the one a cold read needs
	// are fetched ahead; ReadAheadBytes bounds the memory they take.
	// Negative ReadAheadChunks: no read-ahead.
	ReadAheadChunks int
	ReadAheadBytes  int64
	// LocalCacheDir, when set, holds the local disk tier: the newest data
	// of each partition, kept as the topic's local.retention.ms and
	// local.retention.bytes say (Kafka's tiered-storage configs; -2 means
	// retention.ms and retention.bytes), so consumers a little behind read
	// the local disk instead of object storage. Its content is a cache,
	// emptied at Open. LocalCacheBytes bounds it.
	LocalCacheDir   string
	LocalCacheBytes int64

	// ObjectAttempts is how many times an object store call is tried.
	ObjectAttempts int
	// Clock tells the time for retention, compaction and GC; tests set it.
	Clock  func() time.Time
	Logger *slog.Logger
	// Metrics registers the engine's metrics (affluent_storage_…): object
	// store requests, metadata transactions, the WAL backlog, compaction,
	// caches and GC. Nil keeps them unexported. Stores sharing a registry
	// share the series.
	Metrics prometheus.Registerer
}

// DirConfig is the embedded configuration of `affluent dev`: objects and the
// SQLite file under one data directory.
func DirConfig(dataDir string) (Config, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return Config{}, fmt.Errorf("data dir %s: %w", dataDir, err)
	}
	c := Config{
		ObjectStoreURL: "file://" + filepath.ToSlash(filepath.Join(abs, "objects")),
		MetadataURL:    "sqlite://" + filepath.ToSlash(filepath.Join(abs, "dataplane.db")),
	}
	c.SetDefaults()
	return c, nil
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	setDefault := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	setDefault(&c.Linger, DefaultLinger)
	setDefault(&c.CompactionInterval, DefaultCompactionInterval)
	setDefault(&c.WALHold, DefaultWALHold)
	setDefault(&c.DefaultSegmentAge, DefaultSegmentAge)
	setDefault(&c.GCGrace, DefaultGCGrace)
	setDefault(&c.OrphanGrace, DefaultOrphanGrace)
	setDefault(&c.OrphanScanInterval, DefaultOrphanScanInterval)
	setDefault64 := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	setDefault64(&c.CacheBytes, DefaultCacheBytes)
	setDefault64(&c.DefaultSegmentBytes, DefaultSegmentBytes)
	setDefault64(&c.SegmentIndexBytes, DefaultSegmentIndexBytes)
	setDefault64(&c.CleanerMemoryBytes, DefaultCleanerMemoryBytes)
	setDefault64(&c.ReadAheadBytes, DefaultReadAheadBytes)
	if c.LocalCacheDir != "" {
		setDefault64(&c.LocalCacheBytes, DefaultLocalCacheBytes)
	}
	if c.MaxBufferBytes == 0 {
		c.MaxBufferBytes = DefaultMaxBufferBytes
	}
	if c.CompactionWorkers == 0 {
		c.CompactionWorkers = DefaultCompactionWorkers
	}
	if c.ReadAheadChunks == 0 {
		c.ReadAheadChunks = DefaultReadAheadChunks
	}
	if c.ObjectAttempts == 0 {
		c.ObjectAttempts = DefaultObjectAttempts
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.ObjectStoreURL == "" {
		errs = append(errs, errors.New("object store URL is required"))
	}
	if c.MetadataURL == "" {
		errs = append(errs, errors.New("metadata URL is required"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"linger", c.Linger}, {"WAL hold", c.WALHold}, {"GC grace", c.GCGrace},
		{"orphan grace", c.OrphanGrace}, {"orphan scan interval", c.OrphanScanInterval},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, d.v))
		}
	}
	if c.DefaultSegmentAge < 0 {
		errs = append(errs, fmt.Errorf("default segment.ms %v is negative", c.DefaultSegmentAge))
	}
	for _, n := range []struct {
		name string
		v    int64
	}{
		{"max buffer bytes", int64(c.MaxBufferBytes)}, {"cache bytes", c.CacheBytes},
		{"default segment.bytes", c.DefaultSegmentBytes}, {"segment index bytes", c.SegmentIndexBytes},
		{"cleaner memory bytes", c.CleanerMemoryBytes}, {"read-ahead bytes", c.ReadAheadBytes},
		{"local cache bytes", c.LocalCacheBytes}, {"compaction workers", int64(c.CompactionWorkers)},
		{"object attempts", int64(c.ObjectAttempts)},
	} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", n.name, n.v))
		}
	}
	if c.OrphanGrace > 0 && c.OrphanGrace < minOrphanGrace {
		// Half of it bounds how long a WAL object may take to commit.
		errs = append(errs, fmt.Errorf("orphan grace %v is under %v", c.OrphanGrace, minOrphanGrace))
	}
	if c.LocalCacheBytes > 0 && c.LocalCacheDir == "" {
		errs = append(errs, errors.New("local cache bytes set without a local cache dir"))
	}
	return errors.Join(errs...)
}

// Store implements storage.Catalog, storage.Log and groups.Store.
type Store struct {
	cfg     Config
	log     *slog.Logger
	metrics *storeMetrics
	db      *metaDB
	objects objectStore // with retries, each attempt measured
	cache   *chunkCache // the tail: chunks as committed
	ahead   *readAhead  // blocks fetched ahead of cold readers
	local   *localTier  // nil without LocalCacheDir
	routes  *routeCache
	parts   *partitionIndex
	watches *watchers
	buf     *writeBuffer

	// compactMu makes passes of Compact run one at a time.
	compactMu sync.Mutex
	// lastOrphanScan is when a pass last listed the bucket; guarded by
	// compactMu.
	lastOrphanScan time.Time

	// flushSlots holds one token per WAL object in flight (upload or
	// commit); commits receives sealed flushes in seal order.
	flushSlots chan struct{}
	commits    chan *flush

	// bg is the context of background work; it outlives Close's final
	// flush and is cancelled only once everything has stopped.
	bg       context.Context
	cancelBg context.CancelFunc
	stopping chan struct{} // closed by Close: seal what is buffered and stop
	wg       sync.WaitGroup
	closed   atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating when needed) the object store and the metadata DB,
// applies schema migrations and starts the write pipeline and the
// compactor.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("storage config: %w", err)
	}
	db, err := openMetaDB(ctx, cfg.MetadataURL)
	if err != nil {
		return nil, err
	}
	objects, err := openBlobStore(ctx, cfg.ObjectStoreURL, cfg.Clock)
	if err != nil {
		_ = db.close()
		return nil, err
	}
	s, err := newStore(cfg, db, objects)
	if err != nil {
		_ = objects.close()
		_ = db.close()
		return nil, err
	}
	return s, nil
}

// newStore starts a store on open stores; cfg has its defaults.
func newStore(cfg Config, db *metaDB, objects objectStore) (*Store, error) {
	var local *localTier
	if cfg.LocalCacheDir != "" {
		var err error
		if local, err = openLocalTier(cfg.LocalCacheDir, cfg.LocalCacheBytes); err != nil {
			return nil, err
		}
	}
	metrics := newStoreMetrics(cfg.Metrics)
	db.metrics = metrics
	bg, cancel := context.WithCancel(context.Background())
	s := &Store{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "storage"),
		metrics:    metrics,
		db:         db,
		objects:    withRetries(measureObjects(objects, metrics), cfg.ObjectAttempts, 20*time.Millisecond),
		cache:      newChunkCache(cfg.CacheBytes),
		ahead:      newReadAhead(cfg.ReadAheadBytes),
		local:      local,
		routes:     newRouteCache(),
		parts:      newPartitionIndex(),
		watches:    newWatchers(),
		buf:        newWriteBuffer(cfg.MaxBufferBytes, metrics.walBufferBytes),
		flushSlots: make(chan struct{}, defaultMaxInflight),
		commits:    make(chan *flush, defaultMaxInflight),
		bg:         bg,
		cancelBg:   cancel,
		stopping:   make(chan struct{}),
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.runFlusher() }()
	go func() { defer s.wg.Done(); s.runCommitter() }()
	if local != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); local.run(s.stopping) }()
	}
	if cfg.CompactionInterval > 0 {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.runCompactor() }()
	}
	if s.shared() {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.runWatchPoller() }()
	}
	if cfg.Metrics != nil {
		// Another store on the same registry already exports the lags of
		// the same DB (or of its own, in tests): one collector is enough.
		_ = cfg.Metrics.Register(newGroupLagCollector(s))
	}
	return s, nil
}

// Close flushes what is buffered, waits for every goroutine, wakes all
// watchers and closes the stores. Calls after the first return its result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.buf.close()
		close(s.stopping)
		s.wg.Wait()
		s.watches.closeAll()
		s.cancelBg()
		s.ahead.wait()
		var localErr error
		if s.local != nil {
			localErr = s.local.close()
		}
		s.closeErr = errors.Join(s.objects.close(), s.db.close(), localErr)
	})
	return s.closeErr
}

// now is the store's clock.
func (s *Store) now() time.Time { return s.cfg.Clock() }

// tooOldToCommit reports whether an object named at the time its key says
// may already be taken for an orphan by GC.
func (s *Store) tooOldToCommit(key string) bool {
	t, ok := objectKeyTime(key)
	return ok && s.now().Sub(t) > s.cfg.OrphanGrace/2
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	return nil
}
