package cpwatch

import (
	"errors"
	"testing"

	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	"github.com/affluent-io/affluent/dataplane/broker"
)

// TestCheckSession: a session stands while the snapshot served holds its
// key and running cluster, and not after; a key the control plane vouched
// for is not revoked by a snapshot that may predate it.
func TestCheckSession(t *testing.T) {
	c, err := New(Options{Addr: "127.0.0.1:1", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var checks int
	c.OnSnapshot(func() { checks++ })
	first := newTenant(10)
	c.apply(first.snap, true)
	session := broker.Principal{Name: "User:sa-a", Cluster: "lkc-a", Credential: kafkaauth.Grant{APIKey: first.key}.String()}
	if err := c.CheckSession(session); err != nil {
		t.Fatalf("session of a key in the snapshot: %v", err)
	}
	if err := c.CheckSession(broker.Principal{Name: InternalPrincipal, Cluster: "lkc-gone"}); err != nil {
		t.Errorf("the control plane's own session: %v", err)
	}

	// A key the snapshot lacks, vouched for by the control plane when the
	// database's write sequence was 21: snapshots read before may predate
	// it.
	late := broker.Principal{Name: "User:sa-new", Cluster: "lkc-a", Credential: kafkaauth.Grant{APIKey: "LATEKEY"}.String()}
	c.vouched.add(late.Credential, 21)
	c.apply(newTenant(20).snap, false)
	if err := c.CheckSession(late); err != nil {
		t.Errorf("vouched key, snapshot 20: %v", err)
	}
	second := newTenant(21)
	c.apply(second.snap, false)
	if err := c.CheckSession(late); !errors.Is(err, kafkaauth.ErrRevoked) {
		t.Errorf("vouched key absent from snapshot 21: %v, want revoked", err)
	}
	// The first key is gone from the newer snapshots too.
	if err := c.CheckSession(session); !errors.Is(err, kafkaauth.ErrRevoked) {
		t.Errorf("deleted key: %v, want revoked", err)
	}
	// The cluster stops running.
	stopped := newTenant(22)
	stopped.snap.Clusters[0].Phase = "DELETING"
	c.apply(stopped.snap, false)
	p := broker.Principal{Name: "User:sa-a", Cluster: "lkc-a", Credential: kafkaauth.Grant{APIKey: stopped.key}.String()}
	if err := c.CheckSession(p); !errors.Is(err, kafkaauth.ErrRevoked) {
		t.Errorf("cluster being deleted: %v, want revoked", err)
	}
	if checks != 4 {
		t.Errorf("OnSnapshot called %d times for 4 snapshots", checks)
	}
}
