package cpwatch

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	"github.com/affluent-io/affluent/controlplane/oauth"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/broker"
	"github.com/affluent-io/affluent/dataplane/sasl"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// The control plane's own Kafka admin connections: SASL/PLAIN with user
// InternalUserPrefix+<cluster> and the internal secret, whose hash the
// snapshot carries; they act as InternalPrincipal, a super user.
const (
	InternalPrincipal  = "User:__affluent_controlplane"
	InternalUserPrefix = "__affluent_controlplane@"
)

// internalKeyID names the internal credential in the verifier's cache.
const internalKeyID = "\x00internal"

var (
	_ broker.Authenticator            = (*Client)(nil)
	_ broker.TokenAuthenticator       = (*Client)(nil)
	_ broker.CertificateAuthenticator = (*Client)(nil)
	_ broker.Policies                 = (*Client)(nil)
	_ broker.LimitSource              = (*Client)(nil)
)

// directory is the kafkaauth.Directory of the newest snapshot.
type directory struct{ c *Client }

func (d directory) index() (*index, error) {
	x := d.c.current.Load()
	if x == nil {
		return nil, ErrNoSnapshotYet
	}
	return x, nil
}

func (d directory) Cluster(ctx context.Context, id string) (resource.Cluster, error) {
	x, err := d.index()
	if err != nil {
		return resource.Cluster{}, err
	}
	return x.Cluster(ctx, id)
}

func (d directory) APIKey(ctx context.Context, id string) (resource.APIKey, error) {
	x, err := d.index()
	if err != nil {
		return resource.APIKey{}, err
	}
	return x.APIKey(ctx, id)
}

func (d directory) BindingsOf(ctx context.Context, org, principal string) ([]authz.Binding, error) {
	x, err := d.index()
	if err != nil {
		return nil, err
	}
	return x.BindingsOf(ctx, org, principal)
}

func (d directory) IdentityPool(ctx context.Context, id string) (resource.IdentityPool, error) {
	x, err := d.index()
	if err != nil {
		return resource.IdentityPool{}, err
	}
	return x.IdentityPool(ctx, id)
}

func (d directory) CertificatePool(ctx context.Context, id string) (resource.CertificatePool, error) {
	x, err := d.index()
	if err != nil {
		return resource.CertificatePool{}, err
	}
	return x.CertificatePool(ctx, id)
}

func (d directory) CertificatePools(ctx context.Context) ([]resource.CertificatePool, map[string]resource.CertificateAuthority, error) {
	x, err := d.index()
	if err != nil {
		return nil, nil, err
	}
	return x.CertificatePools(ctx)
}

// tokens verifies tokens with the newest snapshot's keys.
type tokens struct{ c *Client }

func (t tokens) Verify(ctx context.Context, raw, org string) (oauth.Identity, error) {
	x := t.c.current.Load()
	if x == nil {
		return oauth.Identity{}, ErrNoSnapshotYet
	}
	if x.tokens == nil {
		return oauth.Identity{}, fmt.Errorf("%w: the control plane has no OAuth issuer", oauth.ErrInvalidToken)
	}
	return x.tokens.Verify(ctx, raw, org)
}

// askControlPlane reports whether a check the snapshot could not decide
// (err) should be asked of the control plane: only when the snapshot
// lacked what the credential names (or there is no snapshot yet), the
// watch is connected (when the control plane is down, the snapshot alone
// decides), and few such checks are already under way (unknown
// credentials are cheap to send; they must not become a flood).
func (c *Client) askControlPlane(err error) (release func(), ok bool) {
	if !errors.Is(err, kafkaauth.ErrUnknown) && !errors.Is(err, ErrNoSnapshotYet) {
		return nil, false
	}
	if !c.connected.Load() && !errors.Is(err, ErrNoSnapshotYet) {
		return nil, false
	}
	select {
	case c.fallbacks <- struct{}{}:
		return func() { <-c.fallbacks }, true
	default:
		return nil, false
	}
}

func principalOf(id *bpb.KafkaIdentity) broker.Principal {
	grant := kafkaauth.Grant{APIKey: id.GetApiKey(), Pool: id.GetPool()}
	return broker.Principal{Name: id.GetPrincipal(), Cluster: id.GetCluster(), Identity: id.GetIdentity(), Credential: grant.String()}
}

// principalFrom is the broker's principal of an identity the rules
// accepted.
func principalFrom(id kafkaauth.Identity) broker.Principal {
	return broker.Principal{Name: id.Principal, Cluster: id.Cluster, Identity: id.Identity, Credential: id.Grant.String()}
}

// invalid wraps a refusal for the broker.
func invalid(err error) error { return fmt.Errorf("%w: %v", broker.ErrInvalidCredentials, err) }

// serves refuses a principal of a cluster this broker does not serve: a
// dedicated cluster's brokers serve it alone, the shared fleet's serve
// every cluster but the DEDICATED ones. A cluster the snapshot does not
// know yet (just created, vouched for by the control plane) is served by
// the shared fleet.
func (c *Client) serves(p broker.Principal) (broker.Principal, error) {
	if own := c.opts.DedicatedCluster; own != "" {
		if p.Cluster != own {
			return broker.Principal{}, invalid(fmt.Errorf("this broker serves cluster %s only, not %s", own, p.Cluster))
		}
		return p, nil
	}
	if x := c.current.Load(); x != nil && x.clusters[p.Cluster].Type == resource.ClusterDedicated {
		return broker.Principal{}, invalid(fmt.Errorf("cluster %s is DEDICATED: connect to its own bootstrap servers", p.Cluster))
	}
	return p, nil
}

// AuthenticatePlain checks a Kafka API key and secret, or the control
// plane's internal credential.
func (c *Client) AuthenticatePlain(ctx context.Context, user, pass string) (broker.Principal, error) {
	p, err := c.authenticatePlain(ctx, user, pass)
	if err != nil {
		return p, err
	}
	return c.serves(p)
}

func (c *Client) authenticatePlain(ctx context.Context, user, pass string) (broker.Principal, error) {
	if cluster, ok := strings.CutPrefix(user, InternalUserPrefix); ok {
		return c.authenticateInternal(cluster, pass)
	}
	id, err := c.rules.VerifyKey(ctx, user, pass)
	if err == nil {
		return principalFrom(id), nil
	}
	release, ask := c.askControlPlane(err)
	if !ask {
		// The control plane, when asked, spends it on its side.
		kafkaauth.SpendUnknownKeyCheck(err, pass)
		if errors.Is(err, kafkaauth.ErrInvalidKey) {
			return broker.Principal{}, invalid(err)
		}
		return broker.Principal{}, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, c.opts.FallbackTimeout)
	defer cancel()
	resp, rerr := c.rpc.VerifyKafkaKey(ctx, &bpb.VerifyKafkaKeyRequest{Key: user, Secret: pass})
	switch {
	case rerr != nil:
		return broker.Principal{}, fmt.Errorf("ask the control plane about API key %s: %w (snapshot: %v)", user, rerr, err)
	case resp.GetRefused() != "":
		return broker.Principal{}, invalid(errors.New(resp.GetRefused()))
	}
	p := principalOf(resp.GetIdentity())
	p.Credential = kafkaauth.Grant{APIKey: user}.String() // the key just verified
	c.vouched.add(p.Credential, resp.GetStoreSequence())
	return p, nil
}

func (c *Client) authenticateInternal(cluster, pass string) (broker.Principal, error) {
	x := c.current.Load()
	if cluster == "" || x == nil || x.snap.GetInternalCredentialHash() == "" {
		return broker.Principal{}, invalid(errors.New("internal credential unknown"))
	}
	// The hash is checked in constant time by argon2; a cached success is
	// keyed by an HMAC of the secret, never the secret.
	if !c.keys.Check(internalKeyID, pass, x.snap.GetInternalCredentialHash()) {
		return broker.Principal{}, invalid(errors.New("wrong internal credential"))
	}
	return broker.Principal{Name: InternalPrincipal, Cluster: cluster}, nil
}

// AuthenticateToken implements broker.TokenAuthenticator.
func (c *Client) AuthenticateToken(ctx context.Context, token string, ext map[string]string) (broker.Principal, time.Time, error) {
	p, exp, err := c.authenticateToken(ctx, token, ext)
	if err != nil {
		return p, exp, err
	}
	p, err = c.serves(p)
	return p, exp, err
}

func (c *Client) authenticateToken(ctx context.Context, token string, ext map[string]string) (broker.Principal, time.Time, error) {
	cluster := ext[sasl.ExtensionLogicalCluster]
	id, err := c.rules.VerifyToken(ctx, token, cluster)
	if err == nil {
		return principalFrom(id), id.Expiry, nil
	}
	release, ask := c.askControlPlane(err)
	if !ask {
		if errors.Is(err, kafkaauth.ErrInvalidToken) {
			return broker.Principal{}, time.Time{}, invalid(err)
		}
		return broker.Principal{}, time.Time{}, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, c.opts.FallbackTimeout)
	defer cancel()
	resp, rerr := c.rpc.VerifyKafkaToken(ctx, &bpb.VerifyKafkaTokenRequest{Token: token, Cluster: cluster})
	switch {
	case rerr != nil:
		return broker.Principal{}, time.Time{}, fmt.Errorf("ask the control plane about a token: %w (snapshot: %v)", rerr, err)
	case resp.GetRefused() != "":
		return broker.Principal{}, time.Time{}, invalid(errors.New(resp.GetRefused()))
	}
	p := principalOf(resp.GetIdentity())
	c.vouched.add(p.Credential, resp.GetStoreSequence())
	return p, resp.GetIdentity().GetExpireTime().AsTime(), nil
}

// AuthenticateCertificate implements broker.CertificateAuthenticator.
func (c *Client) AuthenticateCertificate(ctx context.Context, chain []*x509.Certificate) (broker.Principal, error) {
	p, err := c.authenticateCertificate(ctx, chain)
	if err != nil {
		return p, err
	}
	return c.serves(p)
}

func (c *Client) authenticateCertificate(ctx context.Context, chain []*x509.Certificate) (broker.Principal, error) {
	id, err := c.rules.AuthenticateCertificate(ctx, chain)
	if err == nil {
		return principalFrom(id), nil
	}
	release, ask := c.askControlPlane(err)
	if !ask {
		if errors.Is(err, kafkaauth.ErrInvalidCertificate) {
			return broker.Principal{}, invalid(err)
		}
		return broker.Principal{}, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, c.opts.FallbackTimeout)
	defer cancel()
	der := make([][]byte, len(chain))
	for i, cert := range chain {
		der[i] = cert.Raw
	}
	resp, rerr := c.rpc.AuthenticateKafkaCertificate(ctx, &bpb.AuthenticateKafkaCertificateRequest{Chain: der})
	switch {
	case rerr != nil:
		return broker.Principal{}, fmt.Errorf("ask the control plane about a certificate: %w (snapshot: %v)", rerr, err)
	case resp.GetRefused() != "":
		return broker.Principal{}, invalid(errors.New(resp.GetRefused()))
	}
	p := principalOf(resp.GetIdentity())
	c.vouched.add(p.Credential, resp.GetStoreSequence())
	return p, nil
}

// KafkaPolicy implements broker.Policies: principal's role bindings in
// cluster, compiled by authz as the control plane compiles them.
func (c *Client) KafkaPolicy(ctx context.Context, cluster, principal string) (broker.Policy, error) {
	p, kafkaCRN, err := c.rules.Policy(ctx, cluster, principal)
	if err != nil {
		return nil, err
	}
	return rolePolicy{policy: p, kafka: kafkaCRN}, nil
}

// rolePolicy is one principal's role bindings in one cluster.
type rolePolicy struct {
	policy *authz.Policy
	kafka  authz.CRN
}

func (r rolePolicy) Super() bool { return r.policy.AdministersKafka(r.kafka) }

func (r rolePolicy) Allows(t acl.ResourceType, name string, op acl.Operation) bool {
	return r.policy.AllowsKafka(r.kafka, t.String(), name, op.String())
}

// ClusterLimits implements broker.LimitSource from memory; an unknown
// cluster is unlimited (it cannot authenticate anyway).
func (c *Client) ClusterLimits(cluster string) broker.ClusterLimits {
	if x := c.current.Load(); x != nil {
		return x.limits[cluster]
	}
	return broker.ClusterLimits{}
}

// Clusters returns the ids of the clusters the snapshot holds and whether
// there is a snapshot at all.
func (c *Client) Clusters() (map[string]string, bool) {
	x := c.current.Load()
	if x == nil {
		return nil, false
	}
	out := make(map[string]string, len(x.clusters))
	for id, cl := range x.clusters {
		out[id] = cl.Phase
	}
	return out, true
}
