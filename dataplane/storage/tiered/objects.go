package tiered

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob" // s3:// URLs
	"gocloud.dev/gcerrors"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// objectStore is what the engine needs from object storage. put writes a
// new WAL object and names it; it must be durable when put returns, since
// the metadata commit that follows points at it. Failures wrap
// storage.ErrUnavailable, and errObjectNotFound when an object is missing.
type objectStore interface {
	put(ctx context.Context, parts [][]byte) (key string, err error)
	// create starts writing the object key (a segment), streamed: nothing
	// is visible until the sink's commit succeeds.
	create(ctx context.Context, key string) (objectSink, error)
	// readRange fills dst with the bytes of key from off.
	readRange(ctx context.Context, key string, off int64, dst []byte) error
	// list calls fn for each object whose key starts with prefix.
	list(ctx context.Context, prefix string, fn func(objectInfo) error) error
	// delete removes key; a missing object is no error.
	delete(ctx context.Context, key string) error
	close() error
}

// objectSink is an object being written.
type objectSink interface {
	io.Writer
	// commit makes the object durable and visible under its key.
	commit() error
	// abort discards what was written; after commit it does nothing.
	abort()
}

// objectInfo describes a listed object.
type objectInfo struct {
	key     string
	size    int64
	modTime time.Time
}

// errObjectNotFound marks reads of an object that is not there: an index
// that went stale under GC (read again from the metadata DB), or loss.
var errObjectNotFound = errors.New("object not found")

// unavailable wraps an object store failure as storage.ErrUnavailable
// (retriable), keeping cancellation as it is.
func unavailable(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%s: %w: %w: %w", op, storage.ErrUnavailable, errObjectNotFound, err)
	}
	return fmt.Errorf("%s: %w: %w", op, storage.ErrUnavailable, err)
}

// blobStore is an objectStore on a gocloud.dev bucket. For file:// buckets it
// adds what fileblob leaves out: the object is fsynced before it is renamed
// into place, and its directory after, so a crash cannot lose an object whose
// chunks were committed.
type blobStore struct {
	bucket *blob.Bucket
	// now names new objects (and ages spare writers): the store's clock,
	// which GC compares names with.
	now func() time.Time
	// fileRoot is the bucket directory for file:// and empty otherwise.
	fileRoot string

	mu sync.Mutex
	// Guarded by mu.
	// durableDirs holds directories under fileRoot whose entry in their
	// parent is known to be on disk.
	durableDirs map[string]bool
	spare       *objectWriter // opened ahead for the next put (file:// only)
	preparing   bool          // a goroutine is opening the spare
	closed      bool

	wg sync.WaitGroup // the goroutine preparing the spare
}

func openBlobStore(ctx context.Context, rawURL string, now func() time.Time) (*blobStore, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("object store URL %q: %w", rawURL, err)
	}
	if now == nil {
		now = time.Now
	}
	s := &blobStore{durableDirs: map[string]bool{}, now: now}
	if u.Scheme == "file" {
		// Temp files next to their target (rename stays in one file
		// system, one directory to fsync) and no attribute sidecars (one
		// file to fsync per object).
		opener := &fileblob.URLOpener{Options: fileblob.Options{
			CreateDir: true,
			NoTempDir: true,
			Metadata:  fileblob.MetadataDontWrite,
		}}
		s.bucket, err = opener.OpenBucketURL(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("open object store %s: %w", rawURL, err)
		}
		s.fileRoot, err = filepath.Abs(filepath.FromSlash(u.Path))
		if err != nil {
			_ = s.bucket.Close()
			return nil, fmt.Errorf("open object store %s: %w", rawURL, err)
		}
		// The root may have just been created.
		if err := syncDir(filepath.Dir(s.fileRoot)); err != nil {
			_ = s.bucket.Close()
			return nil, fmt.Errorf("open object store %s: %w", rawURL, err)
		}
		return s, nil
	}
	s.bucket, err = blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", rawURL, err)
	}
	return s, nil
}

func (s *blobStore) put(ctx context.Context, parts [][]byte) (string, error) {
	ow, err := s.takeWriter()
	if err != nil {
		return "", err
	}
	sink := &blobSink{store: s, ow: ow}
	defer context.AfterFunc(ctx, ow.cancel)() // the caller's deadline aborts the write
	for _, p := range parts {
		if _, err := sink.Write(p); err != nil {
			sink.abort()
			return "", err
		}
	}
	if err := sink.commit(); err != nil {
		return "", err
	}
	return ow.key, nil
}

func (s *blobStore) create(ctx context.Context, key string) (objectSink, error) {
	ow, err := s.openWriter(key)
	if err != nil {
		return nil, err
	}
	sink := &blobSink{store: s, ow: ow}
	sink.stopCancel = context.AfterFunc(ctx, ow.cancel)
	return sink, nil
}

// blobSink writes one object through a buffer. For file:// the temp file is
// fsynced before the rename that makes the object visible, and its
// directory after.
type blobSink struct {
	store      *blobStore
	ow         *objectWriter
	bw         *bufio.Writer
	stopCancel func() bool // detaches the caller's context, if any
	done       bool
}

func (b *blobSink) Write(p []byte) (int, error) {
	if b.bw == nil {
		// Small writes are gathered into fewer; large ones pass through.
		b.bw = bufio.NewWriterSize(b.ow.w, 256<<10)
	}
	n, err := b.bw.Write(p)
	if err != nil {
		return n, unavailable("write object "+b.ow.key, err)
	}
	return n, nil
}

func (b *blobSink) commit() error {
	if b.done {
		return errors.New("object already committed or aborted")
	}
	b.done = true
	if b.stopCancel != nil {
		defer b.stopCancel()
	}
	fail := func(err error) error {
		b.ow.discard()
		return unavailable("write object "+b.ow.key, err)
	}
	if b.bw != nil {
		if err := b.bw.Flush(); err != nil {
			return fail(err)
		}
	}
	if b.ow.tmp != nil {
		if err := b.ow.tmp.Sync(); err != nil {
			return fail(fmt.Errorf("fsync: %w", err))
		}
	}
	err := b.ow.w.Close()
	b.ow.cancel()
	if err != nil {
		return unavailable("write object "+b.ow.key, err)
	}
	if b.ow.tmp != nil {
		if err := b.store.syncDirs(filepath.Dir(b.ow.tmp.Name())); err != nil {
			return unavailable("write object "+b.ow.key, err)
		}
	}
	return nil
}

func (b *blobSink) abort() {
	if b.done {
		return
	}
	b.done = true
	if b.stopCancel != nil {
		b.stopCancel()
	}
	b.ow.discard()
}

// objectWriter is a new object, open and not yet written.
type objectWriter struct {
	key    string
	opened time.Time
	w      *blob.Writer
	tmp    *os.File           // the file being written, for file:// only
	cancel context.CancelFunc // before Close: makes Close discard the object
}

func (ow *objectWriter) discard() {
	ow.cancel()
	_ = ow.w.Close()
}

// openWriter starts an object; an empty key names a new WAL object. Its
// context is its own, not a request's, since a spare writer outlives the
// request that asked for it.
func (s *blobStore) openWriter(key string) (*objectWriter, error) {
	now := s.now()
	if key == "" {
		key = newWALKey(now)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ow := &objectWriter{key: key, opened: now, cancel: cancel}
	// Uploads of large objects (segments) go in parts: 8 MiB each, two at
	// a time, bound the memory one upload takes.
	opts := &blob.WriterOptions{ContentType: "application/octet-stream", BufferSize: 8 << 20, MaxConcurrency: 2}
	if s.fileRoot != "" {
		opts.BeforeWrite = func(as func(any) bool) error {
			if !as(&ow.tmp) {
				return errors.New("fileblob writer is not an *os.File")
			}
			return nil
		}
	}
	// With a content type set, blob.Writer passes writes straight to the
	// driver, so tmp holds every byte once they are written.
	w, err := s.bucket.NewWriter(ctx, ow.key, opts)
	if err != nil {
		cancel()
		return nil, unavailable("write object "+ow.key, err)
	}
	ow.w = w
	return ow, nil
}

// spareMaxAge is how long a spare writer may wait for a put. Its temp file
// is in the bucket, where GC removes temp files older than the orphan
// grace, so a spare must never be that old; it also names the object by
// the time it was opened.
const spareMaxAge = 30 * time.Second

// takeWriter returns the spare writer, or opens one. For file:// it then
// prepares the next spare in the background: creating a file costs as much
// as writing and syncing a few hundred KiB on some file systems, and that
// should not add to produce latency.
func (s *blobStore) takeWriter() (*objectWriter, error) {
	if s.fileRoot == "" {
		return s.openWriter("")
	}
	s.mu.Lock()
	ow := s.spare
	s.spare = nil
	if !s.closed && !s.preparing {
		s.preparing = true
		s.wg.Add(1)
		go s.prepareSpare()
	}
	s.mu.Unlock()
	if ow != nil && s.now().Sub(ow.opened) > spareMaxAge {
		ow.discard()
		ow = nil
	}
	if ow != nil {
		return ow, nil
	}
	return s.openWriter("")
}

func (s *blobStore) prepareSpare() {
	defer s.wg.Done()
	ow, err := s.openWriter("")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.preparing = false
	if err != nil {
		return // the next put opens its own writer and reports the error
	}
	if s.closed || s.spare != nil {
		ow.discard()
		return
	}
	s.spare = ow
}

// syncDirs fsyncs dir (it just gained an entry) and, once per process, each
// parent up to the bucket root, in case they were just created.
func (s *blobStore) syncDirs(dir string) error {
	if err := syncDir(dir); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for d := dir; d != s.fileRoot && strings.HasPrefix(d, s.fileRoot) && !s.durableDirs[d]; d = filepath.Dir(d) {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
		s.durableDirs[d] = true
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync dir: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

func (s *blobStore) readRange(ctx context.Context, key string, off int64, dst []byte) error {
	op := fmt.Sprintf("read object %s [%d+%d]", key, off, len(dst))
	r, err := s.bucket.NewRangeReader(ctx, key, off, int64(len(dst)), nil)
	if err != nil {
		return unavailable(op, err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, dst); err != nil {
		return unavailable(op, err)
	}
	return nil
}

func (s *blobStore) list(ctx context.Context, prefix string, fn func(objectInfo) error) error {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if gcerrors.Code(err) == gcerrors.NotFound {
				// fileblob lists a file that went meanwhile (a temp file
				// renamed): worth listing again.
				return fmt.Errorf("list objects %s: %w: %w", prefix, storage.ErrUnavailable, err)
			}
			return unavailable("list objects "+prefix, err)
		}
		if obj.IsDir {
			continue
		}
		if err := fn(objectInfo{key: obj.Key, size: obj.Size, modTime: obj.ModTime}); err != nil {
			return err
		}
	}
}

func (s *blobStore) delete(ctx context.Context, key string) error {
	err := s.bucket.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return unavailable("delete object "+key, err)
	}
	return nil
}

func (s *blobStore) close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	if s.spare != nil {
		s.spare.discard()
		s.spare = nil
	}
	return s.bucket.Close()
}

// newWALKey names a WAL object: time-ordered (listing a prefix walks history
// in order) and unique across brokers thanks to a random suffix.
func newWALKey(now time.Time) string {
	return fmt.Sprintf("%s%04d/%019d-%s", walPrefix, now.UTC().Year(), now.UnixNano(), randomSuffix())
}

// newSegmentKey names a segment object of partition k whose first offset is
// base. A rewrite of the same range gets a new name, so an abandoned
// attempt can never be mistaken for the committed one.
func newSegmentKey(k partitionKey, base int64, now time.Time) string {
	return fmt.Sprintf("%s%s/%d/%020d-%019d-%s", segmentPrefix, k.topicID, k.partition, base, now.UnixNano(), randomSuffix())
}

// Object key prefixes.
const (
	walPrefix     = "wal/"
	segmentPrefix = "seg/"
	// tempSuffix ends the temporary files fileblob writes next to their
	// target: "<key>.<hex unix nanos>.tmp".
	tempSuffix = ".tmp"
)

func randomSuffix() string {
	var suffix [8]byte
	_, _ = rand.Read(suffix[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(suffix[:])
}

// objectKeyTime returns when an object was named (WAL and segment objects)
// or a temp file created, from its key.
func objectKeyTime(key string) (time.Time, bool) {
	if rest, ok := strings.CutSuffix(key, tempSuffix); ok {
		i := strings.LastIndexByte(rest, '.')
		if i < 0 {
			return time.Time{}, false
		}
		n, err := strconv.ParseInt(rest[i+1:], 16, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(0, n), true
	}
	name := key[strings.LastIndexByte(key, '/')+1:]
	fields := strings.Split(name, "-")
	var field string
	switch {
	case strings.HasPrefix(key, walPrefix) && len(fields) == 2:
		field = fields[0]
	case strings.HasPrefix(key, segmentPrefix) && len(fields) == 3:
		field = fields[1]
	default:
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(field, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}
