package controlplane

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/affluent-io/affluent/controlplane/brokerconfig"
	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	"github.com/affluent-io/affluent/controlplane/store"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// This file is the control plane's side of the brokers' config watch
// (brokerconfig): what goes into a snapshot, and the checks brokers fall
// back to.

// providerFetchBudget bounds how long a snapshot waits on an identity
// provider's JWKS endpoint; one that fails is skipped (and not asked again
// for a while: oauth remembers failures).
const providerFetchBudget = 2 * time.Second

// brokerSnapshot reads what brokers need from the store and the OAuth
// service.
func (cp *ControlPlane) brokerSnapshot(ctx context.Context) (*bpb.BrokerSnapshot, error) {
	st, err := cp.store.BrokerState(ctx)
	if err != nil {
		return nil, err
	}
	var oauth *bpb.OAuth
	jwks := map[string][]byte{}
	if cp.tokens != nil {
		own, err := cp.tokens.JWKS(ctx)
		if err != nil {
			return nil, err
		}
		oauth = &bpb.OAuth{Issuer: cp.tokens.Issuer(), Audience: cp.tokens.Audience(), Jwks: string(own)}
		for _, p := range st.IdentityProviders {
			fctx, cancel := context.WithTimeout(ctx, providerFetchBudget)
			raw, err := cp.tokens.ProviderJWKS(fctx, p)
			cancel()
			if err != nil {
				cp.log.Debug("identity provider JWKS unavailable for brokers", "provider", p.ID, "err", err)
				continue
			}
			jwks[p.ID] = raw
		}
	}
	return brokerconfig.Snapshot(st, oauth, jwks, cp.opts.InternalCredentialHash), nil
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

func (b brokerBackend) AddUsage(ctx context.Context, records []store.UsageRecord) error {
	return b.cp.store.AddUsage(ctx, records)
}
