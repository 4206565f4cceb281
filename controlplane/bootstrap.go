package controlplane

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/cluster"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

// BootstrapOptions name what Bootstrap creates; empty fields take the
// defaults shown.
type BootstrapOptions struct {
	Organization   string // "default"
	Environment    string // "default"
	Cluster        string // "dev"
	ServiceAccount string // "admin"
	// NewKeys mints a fresh pair of API keys even if the admin already has
	// some (for when the file that held the first secrets was lost).
	NewKeys bool
	// Wait bounds how long to wait for the cluster to be RUNNING (default 10s).
	Wait time.Duration
}

// Bootstrapped is what Bootstrap made or found. Secrets are only set for
// keys made by this call: they cannot be read back later.
type Bootstrapped struct {
	OrganizationID   string
	EnvironmentID    string
	ClusterID        string
	ServiceAccountID string
	BootstrapServers string
	RESTEndpoint     string

	CloudAPIKey    string
	CloudAPISecret string
	KafkaAPIKey    string
	KafkaAPISecret string
	// KeysCreated is true when this call made the keys (and set the secrets).
	KeysCreated bool
}

// Bootstrap makes sure a ready-to-use tenant exists — an organization, an
// environment, a serverless cluster, an admin service account bound to
// OrganizationAdmin, a cloud API key and a Kafka API key for the cluster —
// creating what is missing. It is what `affluent dev` calls on every start;
// only the first start (or NewKeys) returns secrets. Run must be running,
// or Bootstrap reconciles the cluster itself.
func (cp *ControlPlane) Bootstrap(ctx context.Context, o BootstrapOptions) (Bootstrapped, error) {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	o.Organization, o.Environment = def(o.Organization, "default"), def(o.Environment, "default")
	o.Cluster, o.ServiceAccount = def(o.Cluster, "dev"), def(o.ServiceAccount, "admin")
	if o.Wait == 0 {
		o.Wait = 10 * time.Second
	}
	st := cp.store
	var out Bootstrapped

	org, err := cp.bootstrapOrganization(ctx, o.Organization)
	if err != nil {
		return out, err
	}
	out.OrganizationID = org

	env, err := findOrCreate(ctx, st.Environments(), org, "display_name", o.Environment, func() resource.Environment {
		return resource.Environment{Meta: resource.Meta{ID: resource.NewID(resource.PrefixEnvironment), OrgID: org},
			DisplayName: o.Environment, Description: "Created by affluent dev"}
	})
	if err != nil {
		return out, fmt.Errorf("bootstrap environment: %w", err)
	}
	out.EnvironmentID = env.ID

	c, err := findOrCreate(ctx, st.Clusters(), org, "display_name", o.Cluster, func() resource.Cluster {
		// ENTERPRISE: local development and benchmarks are not to be
		// throttled by a plan sized for a shared fleet.
		limits, _ := cluster.PlanLimits(cluster.PlanEnterprise)
		return resource.Cluster{Meta: resource.Meta{ID: resource.NewID(resource.PrefixCluster), OrgID: org},
			EnvironmentID: env.ID, DisplayName: o.Cluster, Type: resource.ClusterServerless, Cloud: "LOCAL",
			Region: "local", Plan: cluster.PlanEnterprise, Limits: limits, Phase: resource.PhaseProvisioning,
			OperationID: resource.NewID(resource.PrefixOperation)}
	}, store.Query{Parent: env.ID})
	if err != nil {
		return out, fmt.Errorf("bootstrap cluster: %w", err)
	}
	out.ClusterID = c.ID
	cp.reconciler.Resync(ctx)
	if c, err = cp.waitRunning(ctx, org, c.ID, o.Wait); err != nil {
		return out, err
	}
	out.BootstrapServers, out.RESTEndpoint = c.BootstrapServers, c.RestEndpoint

	sa, err := findOrCreate(ctx, st.ServiceAccounts(), org, "display_name", o.ServiceAccount, func() resource.ServiceAccount {
		return resource.ServiceAccount{Meta: resource.Meta{ID: resource.NewID(resource.PrefixServiceAccount), OrgID: org},
			DisplayName: o.ServiceAccount, Description: "Organization administrator created by affluent dev"}
	})
	if err != nil {
		return out, fmt.Errorf("bootstrap service account: %w", err)
	}
	out.ServiceAccountID = sa.ID

	principal := resource.Principal(sa.ID)
	orgCRN := resource.OrganizationCRN(org).String()
	_, err = findOrCreate(ctx, st.RoleBindings(), org, "principal", principal, func() resource.RoleBinding {
		return resource.RoleBinding{Meta: resource.Meta{ID: resource.NewID(resource.PrefixRoleBinding), OrgID: org},
			Principal: principal, RoleName: authz.OrganizationAdmin, CRNPattern: orgCRN}
	}, store.Query{Filters: []store.Filter{store.Eq("role_name", authz.OrganizationAdmin), store.Eq("crn_pattern", orgCRN)}})
	if err != nil {
		return out, fmt.Errorf("bootstrap role binding: %w", err)
	}

	keys, err := st.APIKeys().ListAll(ctx, org, store.Query{Filters: []store.Filter{store.Eq("owner", sa.ID)}})
	if err != nil {
		return out, fmt.Errorf("bootstrap api keys: %w", err)
	}
	for _, k := range keys {
		switch k.Resource {
		case resource.CloudResource:
			out.CloudAPIKey = k.ID
		case c.ID:
			out.KafkaAPIKey = k.ID
		}
	}
	if out.CloudAPIKey == "" || out.KafkaAPIKey == "" || o.NewKeys {
		out.KeysCreated = true
		if out.CloudAPIKey, out.CloudAPISecret, err = cp.newKey(ctx, org, sa.ID, resource.CloudResource, "Cloud API key created by affluent dev"); err != nil {
			return out, err
		}
		if out.KafkaAPIKey, out.KafkaAPISecret, err = cp.newKey(ctx, org, sa.ID, c.ID, "Kafka API key created by affluent dev"); err != nil {
			return out, err
		}
	}
	cp.log.Info("bootstrap done", "organization", org, "environment", env.ID, "cluster", c.ID,
		"service_account", sa.ID, "keys_created", out.KeysCreated)
	return out, nil
}

// bootstrapOrganization returns the organization named name, made if
// there is none. Organizations have no unique names: the oldest one wins.
func (cp *ControlPlane) bootstrapOrganization(ctx context.Context, name string) (string, error) {
	org, err := cp.store.OrganizationByName(ctx, name)
	if err == nil {
		return org.ID, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("bootstrap organization: %w", err)
	}
	id := uuid.NewString()
	if _, err := cp.store.Organizations().Create(ctx, resource.Organization{Meta: resource.Meta{ID: id, OrgID: id}, DisplayName: name}, store.RequestKey{}); err != nil {
		return "", fmt.Errorf("bootstrap organization: %w", err)
	}
	return id, nil
}

type findCreator[T any] interface {
	List(ctx context.Context, org string, q store.Query) ([]T, string, error)
	Create(ctx context.Context, v T, key store.RequestKey) (T, error)
}

// findOrCreate returns the first resource whose column equals value (with
// the extra query), creating newFn() if there is none.
func findOrCreate[T any](ctx context.Context, c findCreator[T], org, column, value string, newFn func() T, extra ...store.Query) (T, error) {
	q := store.Query{PageSize: 1}
	if len(extra) > 0 {
		q.Parent, q.Filters = extra[0].Parent, extra[0].Filters
	}
	q.Filters = append(q.Filters, store.Eq(column, value))
	found, _, err := c.List(ctx, org, q)
	if err != nil || len(found) > 0 {
		var zero T
		if err != nil {
			return zero, err
		}
		return found[0], nil
	}
	return c.Create(ctx, newFn(), store.RequestKey{})
}

func (cp *ControlPlane) newKey(ctx context.Context, org, owner, res, description string) (string, string, error) {
	secret := credential.NewSecret()
	k := resource.APIKey{Meta: resource.Meta{ID: credential.NewKey(), OrgID: org}, Owner: owner, Resource: res,
		DisplayName: "affluent dev", Description: description, SecretHash: credential.Hash(secret, *cp.opts.HashParams)}
	if _, err := cp.store.APIKeys().Create(ctx, k, store.RequestKey{}); err != nil {
		return "", "", fmt.Errorf("bootstrap api key: %w", err)
	}
	return k.ID, secret, nil
}

// waitRunning reconciles until the cluster is RUNNING (or FAILED).
func (cp *ControlPlane) waitRunning(ctx context.Context, org, id string, wait time.Duration) (resource.Cluster, error) {
	deadline := time.Now().Add(wait)
	for {
		c, err := cp.store.Clusters().Get(ctx, org, id)
		if err != nil {
			return c, fmt.Errorf("bootstrap cluster: %w", err)
		}
		switch c.Phase {
		case resource.PhaseRunning:
			return c, nil
		case resource.PhaseFailed:
			return c, fmt.Errorf("bootstrap cluster %s failed: %s", c.ID, c.Message)
		}
		if time.Now().After(deadline) {
			return c, fmt.Errorf("bootstrap cluster %s: still %s after %s", c.ID, c.Phase, wait)
		}
		cp.reconciler.Pass(ctx)
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ErrInvalidKafkaCredentials is returned for an unknown key, a wrong
// secret, or a key that is not a Kafka API key of a running cluster.
var ErrInvalidKafkaCredentials = kafkaauth.ErrInvalidKey

// VerifyKafkaKey checks a Kafka API key and secret (SASL/PLAIN username
// and password) and returns the principal it authenticates (`User:sa-…`)
// and the cluster it is for, by the rules of kafkaauth.Rules.VerifyKey
// over the store. Successful checks are cached, so reconnecting clients
// do not pay argon2's cost each time; the key's record is still read, so
// a deleted key stops working at once.
func (cp *ControlPlane) VerifyKafkaKey(ctx context.Context, key, secret string) (principal, clusterID string, err error) {
	id, err := cp.rules.VerifyKey(ctx, key, secret)
	if errors.Is(err, kafkaauth.ErrUnknown) && len(secret) == credential.SecretLength {
		// An unknown key costs what a known one does, so timing does not
		// tell which keys exist.
		_, _ = credential.Verify(dummyHash(), secret)
	}
	if err != nil {
		return "", "", err
	}
	return id.Principal, id.Cluster, nil
}

var dummyHash = sync.OnceValue(func() string { return credential.Hash(credential.NewSecret(), credential.DefaultParams) })

// KafkaPolicy returns the compiled role bindings of principal in the
// organization of clusterID and the CRN of the cluster's Kafka resources,
// for brokers to authorize Kafka requests with authz.
func (cp *ControlPlane) KafkaPolicy(ctx context.Context, clusterID, principal string) (*authz.Policy, authz.CRN, error) {
	return cp.rules.Policy(ctx, clusterID, principal)
}
