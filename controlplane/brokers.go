package controlplane

import (
	"bytes"
	"context"
	"crypto/x509"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/affluent-io/affluent/controlplane/brokerconfig"
	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// This file is the control plane's side of the brokers' config watch
// (brokerconfig): what goes into a snapshot, and the checks brokers fall
// back to.

// providerFetchBudget bounds one fetch of an identity provider's JWKS; one
// that fails is skipped (and not asked again for a while: oauth remembers
// failures), its keys already known kept.
const providerFetchBudget = 2 * time.Second

// providerRefresh is how often providers' JWKS are asked for again
// (oauth.jwksCache fetches only those older than its refresh period).
const providerRefresh = 30 * time.Second

// maxProviderFetches bounds the fetches under way at once.
const maxProviderFetches = 32

// brokerSnapshot reads what brokers need from the store and the OAuth
// service.
func (cp *ControlPlane) brokerSnapshot(ctx context.Context) (*bpb.BrokerSnapshot, error) {
	st, err := cp.store.BrokerState(ctx)
	if err != nil {
		return nil, err
	}
	var oauth *bpb.OAuth
	var jwks map[string][]byte
	if cp.tokens != nil {
		own, err := cp.tokens.JWKS(ctx)
		if err != nil {
			return nil, err
		}
		oauth = &bpb.OAuth{Issuer: cp.tokens.Issuer(), Audience: cp.tokens.Audience(), Jwks: string(own)}
		jwks = cp.providerKeys.of(st.IdentityProviders)
	}
	snap := brokerconfig.Snapshot(st, oauth, jwks, cp.opts.InternalCredentialHash)
	snap.StoreSequence = st.Sequence
	return snap, nil
}

// BrokerConfig is the publisher of the brokers' snapshots (for tests and
// in-process use).
func (cp *ControlPlane) BrokerConfig() *brokerconfig.Publisher { return cp.brokerPub }

// brokerBackend answers the brokers' fallback checks and failure reports.
type brokerBackend struct{ cp *ControlPlane }

func (b brokerBackend) VerifyKafkaKey(ctx context.Context, key, secret string) (kafkaauth.Identity, error) {
	principal, cluster, err := b.cp.VerifyKafkaKey(ctx, key, secret)
	return kafkaauth.Identity{Principal: principal, Cluster: cluster}, err
}

func (b brokerBackend) VerifyKafkaToken(ctx context.Context, token, cluster string) (kafkaauth.Identity, error) {
	return b.cp.VerifyKafkaToken(ctx, token, cluster)
}

func (b brokerBackend) AuthenticateKafkaCertificate(ctx context.Context, chain []*x509.Certificate) (kafkaauth.Identity, error) {
	return b.cp.AuthenticateKafkaCertificate(ctx, chain)
}

func (b brokerBackend) RecordKafkaAuthFailure(f brokerconfig.AuthFailure) {
	b.cp.RecordKafkaAuthFailure(KafkaAuthFailure(f))
}

func (b brokerBackend) WriteSequence(ctx context.Context) (uint64, error) {
	return b.cp.store.WriteSequence(ctx)
}

func (b brokerBackend) AddUsage(ctx context.Context, records []store.UsageRecord) error {
	return b.cp.store.AddUsage(ctx, records)
}

// providerKeys holds identity providers' JWKS for the brokers' snapshots.
// A build only reads it: fetching there — serially, up to
// providerFetchBudget a provider — let a tenant registering hanging JWKS
// URIs stall every snapshot, and every API call waiting for one
// (WaitPublished). run fetches them instead, each on its own under its
// own timeout (a provider registered does not wait for hanging ones), and
// cues a build when keys change.
type providerKeys struct {
	fetch func(ctx context.Context, p resource.IdentityProvider) ([]byte, error)
	cue   func() // asks for a new snapshot
	log   *slog.Logger
	wake  chan struct{}

	mu sync.Mutex // guards the fields below
	// want are the providers of the newest build.
	want []resource.IdentityProvider
	// keys are the JWKS fetched, by provider id, with the URI they came
	// from (a provider whose URI changed waits for a fetch from the new).
	keys map[string]providerJWKS
	// fetching are the providers whose fetch is under way, by id.
	fetching map[string]bool
}

type providerJWKS struct {
	uri string
	raw []byte
}

func newProviderKeys(fetch func(context.Context, resource.IdentityProvider) ([]byte, error), cue func(), log *slog.Logger) *providerKeys {
	return &providerKeys{fetch: fetch, cue: cue, log: log, wake: make(chan struct{}, 1),
		keys: map[string]providerJWKS{}, fetching: map[string]bool{}}
}

// of returns the JWKS held of providers, by provider id, forgets those of
// providers gone, and wakes run when it lacks some (a provider just
// registered).
func (k *providerKeys) of(providers []resource.IdentityProvider) map[string][]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.want = providers
	out := make(map[string][]byte, len(providers))
	missing := false
	for _, p := range providers {
		if e, ok := k.keys[p.ID]; ok && e.uri == p.JWKSURI {
			out[p.ID] = e.raw
		} else {
			missing = true
		}
	}
	if len(out) < len(k.keys) {
		maps.DeleteFunc(k.keys, func(id string, _ providerJWKS) bool { _, kept := out[id]; return !kept })
	}
	if missing {
		k.wakeUp()
	}
	return out
}

func (k *providerKeys) wakeUp() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// run fetches the JWKS of the providers builds ask for, when woken and
// every providerRefresh, until ctx ends; it returns once its fetches have.
func (k *providerKeys) run(ctx context.Context) {
	var fetches sync.WaitGroup
	defer fetches.Wait()
	tick := time.NewTicker(providerRefresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.wake:
		case <-tick.C:
		}
		k.mu.Lock()
		for _, p := range k.want {
			if k.fetching[p.ID] {
				continue
			}
			if len(k.fetching) >= maxProviderFetches {
				break // the fetch that ends first wakes run again
			}
			k.fetching[p.ID] = true
			fetches.Go(func() { k.fetchOne(ctx, p) })
		}
		k.mu.Unlock()
	}
}

// fetchOne fetches p's JWKS (oauth's cache answers when its copy is
// fresh, or the provider failed recently) and cues a build if it changed.
// A failure keeps the keys held.
func (k *providerKeys) fetchOne(ctx context.Context, p resource.IdentityProvider) {
	fctx, cancel := context.WithTimeout(ctx, providerFetchBudget)
	raw, err := k.fetch(fctx, p)
	cancel()
	if err != nil {
		k.log.Debug("identity provider JWKS unavailable for brokers", "provider", p.ID, "err", err)
	}
	k.mu.Lock()
	full := len(k.fetching) >= maxProviderFetches
	delete(k.fetching, p.ID)
	old, had := k.keys[p.ID]
	changed := err == nil && (!had || old.uri != p.JWKSURI || !bytes.Equal(old.raw, raw))
	if changed {
		k.keys[p.ID] = providerJWKS{uri: p.JWKSURI, raw: raw}
	}
	k.mu.Unlock()
	if full {
		k.wakeUp()
	}
	if changed {
		k.cue()
	}
}
