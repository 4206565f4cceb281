package cpwatch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// snapshotFormat is the version of the file format below; a file of
// another format is refused rather than guessed at.
const snapshotFormat = 1

// snapshotFile is the file a broker keeps its last snapshot in: JSON
// around the snapshot's protobuf bytes, with a digest that catches a torn
// or edited file. It holds hashes and public keys, never secrets, but
// still names every tenant: it is written 0600.
type snapshotFile struct {
	Format  int    `json:"format"`
	Version uint64 `json:"version"`
	SHA256  string `json:"sha256"`
	// Snapshot is the protobuf encoding of BrokerSnapshot (base64 in JSON).
	Snapshot []byte `json:"snapshot"`
}

// ErrNoSnapshot is returned by loadSnapshot when there is no file.
var ErrNoSnapshot = errors.New("no persisted broker snapshot")

// saveSnapshot writes snap to path atomically: a temporary file in the
// same directory, synced, then renamed over path.
func saveSnapshot(path string, snap *bpb.BrokerSnapshot) error {
	raw, err := proto.Marshal(snap)
	if err != nil {
		return fmt.Errorf("encode broker snapshot: %w", err)
	}
	sum := sha256.Sum256(raw)
	out, err := json.Marshal(snapshotFile{Format: snapshotFormat, Version: snap.GetVersion(), SHA256: hex.EncodeToString(sum[:]), Snapshot: raw})
	if err != nil {
		return fmt.Errorf("encode broker snapshot: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write broker snapshot: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write broker snapshot: %w", err)
	}
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("write broker snapshot %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync broker snapshot %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write broker snapshot %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace broker snapshot %s: %w", path, err)
	}
	// The rename is durable once the directory is.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// loadSnapshot reads the snapshot saved at path; ErrNoSnapshot when there
// is none, and an error naming the file and the fault when it cannot be
// trusted.
func loadSnapshot(path string) (*bpb.BrokerSnapshot, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoSnapshot
	}
	if err != nil {
		return nil, fmt.Errorf("read broker snapshot: %w", err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("broker snapshot %s is corrupt (delete it to wait for the control plane): %s", path, fmt.Sprintf(format, args...))
	}
	var f snapshotFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, corrupt("%v", err)
	}
	if f.Format != snapshotFormat {
		return nil, corrupt("format %d, this broker reads format %d", f.Format, snapshotFormat)
	}
	sum := sha256.Sum256(f.Snapshot)
	if hex.EncodeToString(sum[:]) != f.SHA256 {
		return nil, corrupt("digest mismatch")
	}
	var snap bpb.BrokerSnapshot
	if err := proto.Unmarshal(f.Snapshot, &snap); err != nil {
		return nil, corrupt("%v", err)
	}
	if snap.GetVersion() != f.Version || f.Version == 0 {
		return nil, corrupt("version %d does not match its header %d", snap.GetVersion(), f.Version)
	}
	return &snap, nil
}
