package broker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// revocations is a session check refusing the principals it was told of.
type revocations struct {
	mu      sync.Mutex // guards revoked
	revoked map[string]bool
}

func (r *revocations) revoke(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revoked == nil {
		r.revoked = map[string]bool{}
	}
	r.revoked[name] = true
}

func (r *revocations) check(p Principal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revoked[p.Name] {
		return errors.New("credential deleted (test)")
	}
	return nil
}

// TestCheckSessionsClosesRevoked: a check refusing a session's credential
// closes its connection at once, without re-authentication (no
// MaxReauth), and leaves the others; a session authenticated later with a
// revoked credential is closed too.
func TestCheckSessionsClosesRevoked(t *testing.T) {
	b := startTestBroker(t, nil)
	var r revocations
	b.CheckSessions(r.check)
	alice, bob := dialRaw(t, b.addr), dialRaw(t, b.addr)
	alice.authenticate("alice", "alice-secret")
	bob.authenticate("bob", "bob-secret")
	for _, rc := range []*rawClient{alice, bob} {
		rc.roundTrip(kmsg.NewPtrMetadataRequest())
	}

	r.revoke("User:alice")
	start := time.Now()
	if n := b.CheckSessions(r.check); n != 1 {
		t.Errorf("closed %d sessions, want 1", n)
	}
	// Its next request is refused, and is its last.
	topics := kmsg.NewPtrMetadataRequest()
	topics.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
	resp := alice.roundTrip(topics).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("metadata of a revoked session: %+v, want TOPIC_AUTHORIZATION_FAILED", resp.Topics)
	}
	alice.expectClosed()
	t.Logf("revoked session refused and closed after %v", time.Since(start))
	bob.roundTrip(kmsg.NewPtrMetadataRequest()) // still served

	// Authenticating with the revoked credential after the check (the
	// authenticator lagging behind) still ends the session; idle, it is
	// closed after the grace.
	late := dialRaw(t, b.addr)
	late.authenticate("alice", "alice-secret")
	start = time.Now()
	late.expectClosed()
	if took := time.Since(start); took < revokedGrace/2 || took > revokedGrace+time.Second {
		t.Errorf("idle revoked session closed after %v, want about %v", took, revokedGrace)
	}

	// Closed connections leave the registry.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.sessions.mu.Lock()
		n := len(b.sessions.open)
		b.sessions.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions registered, want 1 (bob)", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCheckSessionsSkipsAnonymous: without an authenticator there are no
// sessions to revoke.
func TestCheckSessionsSkipsAnonymous(t *testing.T) {
	b := startTestBroker(t, func(c *Config) {
		c.Authenticator = nil
		c.Anonymous = &Principal{Name: "User:anonymous", Cluster: "lkc-a"}
	})
	rc := dialRaw(t, b.addr)
	rc.roundTrip(kmsg.NewPtrMetadataRequest())
	if n := b.CheckSessions(func(Principal) error { return errors.New("everything revoked") }); n != 0 {
		t.Errorf("closed %d anonymous connections", n)
	}
	rc.roundTrip(kmsg.NewPtrMetadataRequest())
}

// TestFranzGoProducerRevoked: a franz-go producer whose credential is
// revoked fails its next produce (its connections are closed and it cannot
// authenticate again), without re-authentication being configured.
func TestFranzGoProducerRevoked(t *testing.T) {
	users := StaticAuthenticator{"carol": {Password: "carol-secret", Principal: Principal{Name: "User:carol", Cluster: "lkc-a"}}}
	b := startTestBroker(t, func(c *Config) { c.Authenticator = &users })
	if _, err := b.store.CreateTopic(t.Context(), "lkc-a", "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	var r revocations
	b.CheckSessions(r.check)
	cl := kgoClient(t, b.addr, kgo.SASL(plain.Auth{User: "carol", Pass: "carol-secret"}.AsMechanism()),
		kgo.RecordRetries(1), kgo.RecordDeliveryTimeout(2*time.Second), kgo.MetadataMinAge(250*time.Millisecond))
	produce := func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		return cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr()
	}
	if err := produce(); err != nil {
		t.Fatalf("produce before the revocation: %v", err)
	}
	r.revoke("User:carol")
	delete(users, "carol") // what the authenticator learns with the check
	start := time.Now()
	b.CheckSessions(r.check)
	err := produce()
	if err == nil {
		t.Fatal("produce after the revocation succeeded")
	}
	t.Logf("produce after the revocation failed after %v: %v", time.Since(start), err)
}
