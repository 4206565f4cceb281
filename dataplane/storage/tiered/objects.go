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
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob" // s3:// URLs
)

// objectStore is what the engine needs from object storage. put writes a
// new object and names it; it must be durable when put returns, since the
// metadata commit that follows points at it.
type objectStore interface {
	put(ctx context.Context, parts [][]byte) (key string, err error)
	// readRange fills dst with the bytes of key from off.
	readRange(ctx context.Context, key string, off int64, dst []byte) error
	close() error
}

// blobStore is an objectStore on a gocloud.dev bucket. For file:// buckets it
// adds what fileblob leaves out: the object is fsynced before it is renamed
// into place, and its directory after, so a crash cannot lose an object whose
// chunks were committed.
type blobStore struct {
	bucket *blob.Bucket
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

func openBlobStore(ctx context.Context, rawURL string) (*blobStore, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("object store URL %q: %w", rawURL, err)
	}
	s := &blobStore{durableDirs: map[string]bool{}}
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
	defer context.AfterFunc(ctx, ow.cancel)() // the caller's deadline aborts the write
	abort := func(err error) (string, error) {
		ow.discard()
		return "", fmt.Errorf("write object %s: %w", ow.key, err)
	}
	// Small batches are gathered into fewer writes; large ones pass through.
	bw := bufio.NewWriterSize(ow.w, 256<<10)
	for _, p := range parts {
		if _, err := bw.Write(p); err != nil {
			return abort(err)
		}
	}
	if err := bw.Flush(); err != nil {
		return abort(err)
	}
	if ow.tmp != nil {
		if err := ow.tmp.Sync(); err != nil {
			return abort(fmt.Errorf("fsync: %w", err))
		}
	}
	err = ow.w.Close()
	ow.cancel()
	if err != nil {
		return "", fmt.Errorf("write object %s: %w", ow.key, err)
	}
	if ow.tmp != nil {
		if err := s.syncDirs(filepath.Dir(ow.tmp.Name())); err != nil {
			return "", fmt.Errorf("write object %s: %w", ow.key, err)
		}
	}
	return ow.key, nil
}

// objectWriter is a new object, open and not yet written.
type objectWriter struct {
	key    string
	w      *blob.Writer
	tmp    *os.File           // the file being written, for file:// only
	cancel context.CancelFunc // before Close: makes Close discard the object
}

func (ow *objectWriter) discard() {
	ow.cancel()
	_ = ow.w.Close()
}

// openWriter starts a WAL object. Its context is its own, not a request's,
// since a spare writer outlives the request that asked for it.
func (s *blobStore) openWriter() (*objectWriter, error) {
	ctx, cancel := context.WithCancel(context.Background())
	ow := &objectWriter{key: newWALKey(time.Now()), cancel: cancel}
	opts := &blob.WriterOptions{ContentType: "application/octet-stream"}
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
		return nil, fmt.Errorf("write object %s: %w", ow.key, err)
	}
	ow.w = w
	return ow, nil
}

// takeWriter returns the spare writer, or opens one. For file:// it then
// prepares the next spare in the background: creating a file costs as much
// as writing and syncing a few hundred KiB on some file systems, and that
// should not add to produce latency.
func (s *blobStore) takeWriter() (*objectWriter, error) {
	if s.fileRoot == "" {
		return s.openWriter()
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
	if ow != nil {
		return ow, nil
	}
	return s.openWriter()
}

func (s *blobStore) prepareSpare() {
	defer s.wg.Done()
	ow, err := s.openWriter()
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
	r, err := s.bucket.NewRangeReader(ctx, key, off, int64(len(dst)), nil)
	if err != nil {
		return fmt.Errorf("read object %s [%d+%d]: %w", key, off, len(dst), err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, dst); err != nil {
		return fmt.Errorf("read object %s [%d+%d]: %w", key, off, len(dst), err)
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
	var suffix [8]byte
	_, _ = rand.Read(suffix[:]) // crypto/rand.Read never fails
	return fmt.Sprintf("wal/%04d/%019d-%s", now.UTC().Year(), now.UnixNano(), hex.EncodeToString(suffix[:]))
}
