// Package tiered is the durable dataplane storage engine: partition logs in
// WAL objects on object storage (gocloud.dev/blob: file://, s3://), and
// everything that says what those objects mean — topics, partition offsets,
// chunk locations, idempotent-producer state, consumer groups and committed
// offsets — in a metadata DB (SQLite today; the schema is kept portable for
// PostgreSQL).
//
// The write path groups batches from every partition of every cluster for a
// short linger into one WAL object, writes it (durably: fsync for file://),
// then commits one metadata transaction that checks producer sequences,
// assigns offsets and records chunk locations. Only then is Append answered.
// Offsets are assigned at commit, so Read rewrites each batch's baseOffset
// (outside the batch CRC) when it serves it.
//
// One Store is meant to be the only writer of its partitions; the metadata DB
// stays the authority for offsets and producer state, so a second writer
// cannot corrupt a log, but its in-memory tail index would go stale.
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
)

// Config configures a Store.
type Config struct {
	// ObjectStoreURL is a gocloud.dev/blob URL: file:///abs/dir or
	// s3://bucket?region=…
	ObjectStoreURL string
	// MetadataURL is sqlite:///abs/path/meta.db or a plain file path.
	MetadataURL string
	// Linger is how long the first batch of a flush waits for company.
	Linger time.Duration
	// MaxBufferBytes flushes early when this many bytes are buffered; it
	// also bounds a WAL object (a single larger batch gets its own).
	MaxBufferBytes int
	// CacheBytes bounds the in-memory cache of recently written or read
	// chunks that keeps tail consumers off object storage.
	CacheBytes int64
	Logger     *slog.Logger
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
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.MaxBufferBytes == 0 {
		c.MaxBufferBytes = DefaultMaxBufferBytes
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = DefaultCacheBytes
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
	if c.Linger < 0 {
		errs = append(errs, fmt.Errorf("linger %v is negative", c.Linger))
	}
	if c.MaxBufferBytes < 0 {
		errs = append(errs, fmt.Errorf("max buffer bytes %d is negative", c.MaxBufferBytes))
	}
	if c.CacheBytes < 0 {
		errs = append(errs, fmt.Errorf("cache bytes %d is negative", c.CacheBytes))
	}
	return errors.Join(errs...)
}

// Store implements storage.Catalog, storage.Log and groups.Store.
type Store struct {
	cfg     Config
	log     *slog.Logger
	db      *metaDB
	objects objectStore
	cache   *chunkCache
	routes  *routeCache
	parts   *partitionIndex
	watches *watchers
	buf     *writeBuffer

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
// applies schema migrations and starts the write pipeline.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("storage config: %w", err)
	}
	db, err := openMetaDB(ctx, cfg.MetadataURL)
	if err != nil {
		return nil, err
	}
	objects, err := openBlobStore(ctx, cfg.ObjectStoreURL)
	if err != nil {
		_ = db.close()
		return nil, err
	}
	return newStore(cfg, db, objects), nil
}

func newStore(cfg Config, db *metaDB, objects objectStore) *Store {
	bg, cancel := context.WithCancel(context.Background())
	s := &Store{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "storage"),
		db:         db,
		objects:    objects,
		cache:      newChunkCache(cfg.CacheBytes),
		routes:     newRouteCache(),
		parts:      newPartitionIndex(),
		watches:    newWatchers(),
		buf:        newWriteBuffer(cfg.MaxBufferBytes),
		flushSlots: make(chan struct{}, defaultMaxInflight),
		commits:    make(chan *flush, defaultMaxInflight),
		bg:         bg,
		cancelBg:   cancel,
		stopping:   make(chan struct{}),
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.runFlusher() }()
	go func() { defer s.wg.Done(); s.runCommitter() }()
	return s
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
		s.closeErr = errors.Join(s.objects.close(), s.db.close())
	})
	return s.closeErr
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	return nil
}
