package cpwatch

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"

	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	"github.com/affluent-io/affluent/controlplane/oauth"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/dataplane/broker"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// index is one snapshot, read-only once built, in the shapes the rules
// look things up by. It is the broker's kafkaauth.Directory and
// oauth.KeySource.
type index struct {
	snap     *bpb.BrokerSnapshot
	clusters map[string]resource.Cluster
	limits   map[string]broker.ClusterLimits
	keys     map[string]resource.APIKey
	// bindings are by organization and principal.
	bindings  map[[2]string][]authz.Binding
	providers map[string][]resource.IdentityProvider // by issuer
	pools     map[string][]resource.IdentityPool     // by provider id
	jwks      map[string]oauth.JWKS                  // by provider id
	ownJWKS   oauth.JWKS
	tokens    *oauth.TokenVerifier // nil without OAuth
	cas       map[string]resource.CertificateAuthority
	certPools []resource.CertificatePool
	// Pools by id, for rechecking sessions (kafkaauth.PoolDirectory);
	// identityPools holds only those whose provider is in the snapshot.
	identityPools map[string]resource.IdentityPool
	certPoolsByID map[string]resource.CertificatePool
}

var (
	_ kafkaauth.Directory     = (*index)(nil)
	_ kafkaauth.PoolDirectory = (*index)(nil)
	_ oauth.KeySource         = (*index)(nil)
)

// newIndex indexes snap. Parts that do not parse (a provider's JWKS) are
// left out and logged: the rest of the snapshot still serves.
func newIndex(snap *bpb.BrokerSnapshot, log *slog.Logger) *index {
	x := &index{snap: snap, clusters: map[string]resource.Cluster{}, limits: map[string]broker.ClusterLimits{},
		keys: map[string]resource.APIKey{}, bindings: map[[2]string][]authz.Binding{},
		providers: map[string][]resource.IdentityProvider{}, pools: map[string][]resource.IdentityPool{},
		jwks: map[string]oauth.JWKS{}, cas: map[string]resource.CertificateAuthority{},
		identityPools: map[string]resource.IdentityPool{}, certPoolsByID: map[string]resource.CertificatePool{}}
	providerIDs := map[string]bool{}
	for _, c := range snap.GetClusters() {
		x.clusters[c.GetId()] = resource.Cluster{Meta: resource.Meta{ID: c.GetId(), OrgID: c.GetOrgId()},
			EnvironmentID: c.GetEnvironmentId(), Phase: c.GetPhase(), Type: c.GetType()}
		l := c.GetLimits()
		x.limits[c.GetId()] = broker.ClusterLimits{IngressByteRate: l.GetIngressByteRate(), EgressByteRate: l.GetEgressByteRate(),
			MaxPartitions: l.GetMaxPartitions(), MaxStorageBytes: l.GetMaxStorageBytes(), MaxConnections: l.GetMaxConnections(),
			MaxConnectionAttemptRate: l.GetMaxConnectionAttemptRate(), MaxMessageBytes: l.GetMaxMessageBytes(),
			MaxRequestRate: l.GetMaxRequestRate()}
	}
	for _, k := range snap.GetApiKeys() {
		x.keys[k.GetId()] = resource.APIKey{Meta: resource.Meta{ID: k.GetId(), OrgID: k.GetOrgId()},
			Owner: k.GetOwner(), Resource: k.GetResource(), SecretHash: k.GetSecretHash()}
	}
	for _, rb := range snap.GetRoleBindings() {
		at := [2]string{rb.GetOrgId(), rb.GetPrincipal()}
		x.bindings[at] = append(x.bindings[at], authz.Binding{Principal: rb.GetPrincipal(), RoleName: rb.GetRoleName(), CRNPattern: rb.GetCrnPattern()})
	}
	for _, p := range snap.GetIdentityProviders() {
		providerIDs[p.GetId()] = true
		x.providers[p.GetIssuer()] = append(x.providers[p.GetIssuer()], resource.IdentityProvider{
			Meta: resource.Meta{ID: p.GetId(), OrgID: p.GetOrgId()}, Issuer: p.GetIssuer(), JWKSURI: p.GetJwksUri()})
		if p.GetJwks() == "" {
			continue
		}
		keys, err := oauth.ParseJWKS([]byte(p.GetJwks()))
		if err != nil {
			log.Warn("identity provider JWKS in snapshot unusable", "provider", p.GetId(), "err", err)
			continue
		}
		x.jwks[p.GetId()] = keys
	}
	for _, p := range snap.GetIdentityPools() {
		pool := resource.IdentityPool{Meta: resource.Meta{ID: p.GetId(), OrgID: p.GetOrgId()}, ProviderID: p.GetProviderId(),
			IdentityClaim: p.GetIdentityClaim(), Filter: p.GetFilter()}
		x.pools[p.GetProviderId()] = append(x.pools[p.GetProviderId()], pool)
		if providerIDs[p.GetProviderId()] {
			x.identityPools[p.GetId()] = pool
		}
	}
	for _, ca := range snap.GetCertificateAuthorities() {
		x.cas[ca.GetId()] = resource.CertificateAuthority{Meta: resource.Meta{ID: ca.GetId(), OrgID: ca.GetOrgId(), Etag: ca.GetEtag()},
			CertificateChain: ca.GetCertificateChain()}
	}
	for _, p := range snap.GetCertificatePools() {
		pool := resource.CertificatePool{Meta: resource.Meta{ID: p.GetId(), OrgID: p.GetOrgId()},
			CAID: p.GetCaId(), ExternalIdentifier: p.GetExternalIdentifier(), Filter: p.GetFilter(), ClusterID: p.GetClusterId()}
		x.certPools = append(x.certPools, pool)
		x.certPoolsByID[p.GetId()] = pool
	}
	if o := snap.GetOauth(); o.GetIssuer() != "" {
		own, err := oauth.ParseJWKS([]byte(o.GetJwks()))
		if err != nil {
			log.Warn("control plane JWKS in snapshot unusable", "err", err)
		}
		x.ownJWKS = own
		x.tokens = oauth.NewTokenVerifier(x, oauth.VerifierOptions{Issuer: o.GetIssuer(), Audience: o.GetAudience(), Logger: log})
	}
	return x
}

func notFound(what, id string) error { return fmt.Errorf("%s %s: %w", what, id, kafkaauth.ErrNotFound) }

func (x *index) Cluster(_ context.Context, id string) (resource.Cluster, error) {
	c, ok := x.clusters[id]
	if !ok {
		return c, notFound("cluster", id)
	}
	return c, nil
}

func (x *index) APIKey(_ context.Context, id string) (resource.APIKey, error) {
	k, ok := x.keys[id]
	if !ok {
		return k, notFound("API key", id)
	}
	return k, nil
}

func (x *index) IdentityPool(_ context.Context, id string) (resource.IdentityPool, error) {
	p, ok := x.identityPools[id]
	if !ok {
		return p, notFound("identity pool", id)
	}
	return p, nil
}

func (x *index) CertificatePool(_ context.Context, id string) (resource.CertificatePool, error) {
	p, ok := x.certPoolsByID[id]
	if !ok {
		return p, notFound("certificate pool", id)
	}
	return p, nil
}

func (x *index) BindingsOf(_ context.Context, org, principal string) ([]authz.Binding, error) {
	return x.bindings[[2]string{org, principal}], nil
}

func (x *index) CertificatePools(context.Context) ([]resource.CertificatePool, map[string]resource.CertificateAuthority, error) {
	return x.certPools, x.cas, nil
}

func (x *index) SigningKey(_ context.Context, kid string) (crypto.PublicKey, error) {
	return x.ownJWKS.Key(kid, oauth.SigningAlgorithm)
}

func (x *index) IdentityProvidersByIssuer(_ context.Context, iss string) ([]resource.IdentityProvider, error) {
	return x.providers[iss], nil
}

func (x *index) IdentityPoolsOf(_ context.Context, org, provider string) ([]resource.IdentityPool, error) {
	var out []resource.IdentityPool
	for _, p := range x.pools[provider] {
		if p.OrgID == org {
			out = append(out, p)
		}
	}
	return out, nil
}

func (x *index) ProviderKeys(_ context.Context, p resource.IdentityProvider, _ string) (oauth.JWKS, error) {
	keys, ok := x.jwks[p.ID]
	if !ok {
		return keys, fmt.Errorf("%w: the snapshot has no JWKS of identity provider %s", oauth.ErrUnknownKey, p.ID)
	}
	return keys, nil
}
