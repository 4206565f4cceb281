package cpwatch

import (
	"context"
	"errors"
	"sync"

	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	"github.com/affluent-io/affluent/dataplane/broker"
)

// vouched are the credentials the control plane accepted for this broker
// while its snapshot did not hold them yet, with the shared database's
// write sequence read after the check. A snapshot of a lower store
// sequence may predate the credential, so its absence there revokes
// nothing; only a snapshot read at that sequence or later, whichever
// control-plane replica built it, tells it is gone.
type vouched struct {
	mu     sync.Mutex        // guards grants
	grants map[string]uint64 // kafkaauth.Grant string → store sequence
}

func (v *vouched) add(grant string, seq uint64) {
	if grant == "" {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.grants == nil {
		v.grants = map[string]uint64{}
	}
	v.grants[grant] = max(v.grants[grant], seq)
}

// covers reports whether grant's absence from the snapshot of store
// sequence served may be the snapshot's age.
func (v *vouched) covers(grant string, served uint64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	at, ok := v.grants[grant]
	return ok && at > served
}

// forgetBefore drops the grants a snapshot of store sequence served
// settles.
func (v *vouched) forgetBefore(served uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for g, at := range v.grants {
		if at <= served {
			delete(v.grants, g)
		}
	}
}

// OnSnapshot calls fn after each newer snapshot is served (from the watch
// goroutine; fn must not block long). Set it before Run.
func (c *Client) OnSnapshot(fn func()) { c.onSnapshot = fn }

// CheckSession reports whether the credential an open session
// authenticated with still stands in the snapshot served
// (broker.Broker.CheckSessions): its cluster runs, and its API key (with
// its owner) or its pool still exists. An error means the broker must
// close the session; a check that cannot be made keeps it. The control
// plane's own sessions are not checked: its credential changes only with
// its process, and it needs them to empty a cluster being deleted.
func (c *Client) CheckSession(p broker.Principal) error {
	x := c.current.Load()
	if x == nil || p.Name == InternalPrincipal {
		return nil
	}
	err := c.rules.Recheck(context.Background(), kafkaauth.Identity{Principal: p.Name, Cluster: p.Cluster,
		Grant: kafkaauth.ParseGrant(p.Credential)})
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, kafkaauth.ErrRevoked):
		c.log.Debug("open session not checked", "principal", p.Name, "cluster", p.Cluster, "err", err)
		return nil
	case c.vouched.covers(p.Credential, x.snap.GetStoreSequence()):
		return nil
	}
	return err
}
