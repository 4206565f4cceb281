package broker

// Authorization of every request, inside the connection's cluster.
//
// When Config.ACLs is set, each request is decided as Kafka's authorizer
// decides it, from two sources: the cluster's Kafka ACLs (Config.ACLs, the
// metadata DB) and the principal's role bindings (Config.Policies, from the
// control plane). Super users (Config.SuperUsers) and principals whose role
// bindings administer the whole cluster may do everything; otherwise a DENY
// ACL wins, then an ALLOW ACL (with Kafka's implied operations) or a role
// binding allows, and anything else is denied. Without Config.ACLs every
// authenticated principal may do everything in its own cluster, as Kafka
// without an authorizer, and the ACL APIs answer SECURITY_DISABLED.
//
// Both sources are cached per broker for Config.AuthzCacheTTL, so a
// revoked role binding or an ACL changed through another broker applies
// within that time to connected clients too; an ACL changed through this
// broker applies at once. When a source cannot be read, what was last read
// keeps serving; with nothing read yet, the request is denied.
//
// Each handler checks what Kafka checks for its API (authorizationRules
// lists them), before looking anything up, so a denied client learns
// nothing of what exists: not even whether a name it cannot see is taken.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"golang.org/x/sync/singleflight"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

// DefaultAuthzCacheTTL is how long role bindings and ACLs read from their
// sources are used before being read again.
const DefaultAuthzCacheTTL = 2 * time.Second

// Policies gives the role bindings of principals, for Config.Policies. The
// control plane implements it in production (through authz).
type Policies interface {
	// KafkaPolicy returns what principal's role bindings allow in cluster.
	KafkaPolicy(ctx context.Context, cluster, principal string) (Policy, error)
}

// Policy is what the role bindings of one principal allow in one cluster.
type Policy interface {
	// Super reports whether the bindings administer the whole cluster:
	// everything is allowed and no ACL denies.
	Super() bool
	// Allows reports whether the bindings allow op on the resource.
	Allows(t acl.ResourceType, name string, op acl.Operation) bool
}

// authorizationRules says what each API requires, Kafka's rules; every
// registered API has an entry (a test checks), so a new API cannot skip
// authorization unnoticed.
var authorizationRules = map[int16]string{
	apiProduce:                      "WRITE on each topic (TOPIC_AUTHORIZATION_FAILED per partition); WRITE on the transactional id",
	apiFetch:                        "READ on each topic",
	apiListOffsets:                  "DESCRIBE on each topic",
	apiMetadata:                     "DESCRIBE on each topic listed or named; CREATE on the cluster or topic to auto-create",
	apiOffsetCommit:                 "READ on the group, READ on each topic",
	apiOffsetFetch:                  "DESCRIBE on each group; topics without DESCRIBE are left out (all topics) or refused (named)",
	apiFindCoordinator:              "DESCRIBE on the group or transactional id",
	apiJoinGroup:                    "READ on the group",
	apiHeartbeat:                    "READ on the group",
	apiLeaveGroup:                   "READ on the group",
	apiSyncGroup:                    "READ on the group",
	apiDescribeGroups:               "DESCRIBE on each group",
	apiListGroups:                   "DESCRIBE on the cluster, else only groups with DESCRIBE",
	apiSASLHandshake:                "none: before authentication",
	apiApiVersions:                  "none: before authentication",
	apiCreateTopics:                 "CREATE on the cluster or on each topic; DESCRIBE_CONFIGS to see the configs created",
	apiDeleteTopics:                 "DELETE on each topic (DESCRIBE too when named by id)",
	apiDeleteRecords:                "DELETE on each topic",
	apiInitProducerID:               "WRITE on the transactional id; else IDEMPOTENT_WRITE on the cluster or WRITE on any topic",
	apiOffsetForLeaderEpoch:         "DESCRIBE on each topic",
	apiAddPartitionsToTxn:           "WRITE on the transactional id, WRITE on each topic",
	apiAddOffsetsToTxn:              "WRITE on the transactional id, READ on the group",
	apiEndTxn:                       "WRITE on the transactional id",
	apiTxnOffsetCommit:              "WRITE on the transactional id, READ on the group, READ on each topic",
	apiDescribeProducers:            "READ on each topic",
	apiDescribeTransactions:         "DESCRIBE on each transactional id",
	apiListTransactions:             "DESCRIBE on each transactional id listed; the others are left out",
	apiDescribeACLs:                 "DESCRIBE on the cluster",
	apiCreateACLs:                   "ALTER on the cluster",
	apiDeleteACLs:                   "ALTER on the cluster",
	apiDescribeConfigs:              "DESCRIBE_CONFIGS on each topic, or on the cluster for brokers",
	apiAlterConfigs:                 "ALTER_CONFIGS on each topic, or on the cluster for brokers",
	apiSASLAuthenticate:             "none: authentication",
	apiCreatePartitions:             "ALTER on each topic",
	apiDeleteGroups:                 "DELETE on each group",
	apiIncrementalAlterConfigs:      "ALTER_CONFIGS on each topic, or on the cluster for brokers",
	apiOffsetDelete:                 "DELETE on the group, READ on each topic",
	apiDescribeClientQuotas:         "DESCRIBE_CONFIGS on the cluster",
	apiAlterClientQuotas:            "ALTER_CONFIGS on the cluster",
	apiDescribeCluster:              "none; authorized operations only with DESCRIBE on the cluster",
	apiDescribeUserScramCredentials: "DESCRIBE on the cluster",
	apiAlterUserScramCredentials:    "ALTER on the cluster",
	apiConsumerGroupHeartbeat:       "READ on the group, DESCRIBE on each topic subscribed to by name",
	apiConsumerGroupDescribe:        "DESCRIBE on each group",
}

// authorizer caches the sources of decisions for all connections.
type authorizer struct {
	acls     storage.ACLs
	policies Policies // nil: no role bindings
	super    map[string]bool
	ttl      time.Duration
	log      *slog.Logger
	now      func() time.Time

	loads singleflight.Group // one read per source and key at a time

	mu       sync.Mutex // guards the fields below
	aclsOf   map[string]cachedACLs
	policyOf map[policyKey]cachedPolicy
	// aclGen counts local ACL changes: a read started before one is not
	// cached, so a change made here applies to the next request.
	aclGen uint64
}

type cachedACLs struct {
	bindings []acl.Binding
	read     time.Time
}

type policyKey struct{ cluster, principal string }

type cachedPolicy struct {
	policy Policy
	read   time.Time
}

// maxCached bounds each cache; beyond it, expired entries are dropped.
const maxCached = 10_000

func newAuthorizer(cfg Config, log *slog.Logger) *authorizer {
	a := &authorizer{
		acls:     cfg.ACLs,
		policies: cfg.Policies,
		super:    make(map[string]bool, len(cfg.SuperUsers)),
		ttl:      cfg.AuthzCacheTTL,
		log:      log,
		now:      time.Now,
		aclsOf:   make(map[string]cachedACLs),
		policyOf: make(map[policyKey]cachedPolicy),
	}
	for _, p := range cfg.SuperUsers {
		a.super[p] = true
	}
	return a
}

// requestAuth decides for one request: its principal's ACLs and role
// bindings, read once per request.
type requestAuth struct {
	all    bool // a super user, or authorization is off
	acls   acl.Set
	policy Policy // nil: no role bindings
}

var allowAll = &requestAuth{all: true}

func (ra *requestAuth) allowed(t acl.ResourceType, name string, op acl.Operation) bool {
	if ra.all {
		return true
	}
	switch ra.acls.Decide(t, name, op) {
	case acl.Denied:
		return false
	case acl.Allowed:
		return true
	}
	return ra.policy != nil && ra.policy.Allows(t, name, op)
}

// auth returns the request's decider, loading it on first use. Handlers
// call it from their own goroutine before starting others.
func (b *Broker) auth(ctx context.Context, r *request) *requestAuth {
	if r.auth == nil {
		if b.authz == nil {
			r.auth = allowAll
		} else {
			r.auth = b.authz.load(ctx, r.principal, remoteIP(r))
		}
	}
	return r.auth
}

// allowed reports whether the request's principal may perform op on the
// resource of its cluster.
func (b *Broker) allowed(ctx context.Context, r *request, t acl.ResourceType, name string, op acl.Operation) bool {
	return b.auth(ctx, r).allowed(t, name, op)
}

// clusterAllowed is allowed on the CLUSTER resource.
func (b *Broker) clusterAllowed(ctx context.Context, r *request, op acl.Operation) bool {
	return b.allowed(ctx, r, acl.ResourceCluster, acl.ClusterName, op)
}

// idempotentWriteAllowed is Kafka 3's rule for idempotent producers:
// IDEMPOTENT_WRITE on the cluster, or WRITE on any topic by ACL (a role
// binding that writes a topic grants IDEMPOTENT_WRITE on the cluster).
func (b *Broker) idempotentWriteAllowed(ctx context.Context, r *request) bool {
	ra := b.auth(ctx, r)
	if ra.allowed(acl.ResourceCluster, acl.ClusterName, acl.OpIdempotentWrite) {
		return true
	}
	return ra.acls.AllowsAnyOf(acl.ResourceTopic, acl.OpWrite)
}

// authorizedOps is the authorized-operations bitfield of a resource: a bit
// per operation Kafka defines on its type, set when allowed.
func (b *Broker) authorizedOps(ctx context.Context, r *request, t acl.ResourceType, name string) int32 {
	ra := b.auth(ctx, r)
	var bits int32
	for _, op := range acl.Operations(t) {
		if ra.allowed(t, name, op) {
			bits |= 1 << op
		}
	}
	return bits
}

// clusterAuthorizedOps is the cluster's authorized-operations bitfield,
// which Kafka reveals only to principals that may DESCRIBE the cluster.
func (b *Broker) clusterAuthorizedOps(ctx context.Context, r *request) int32 {
	if !b.clusterAllowed(ctx, r, acl.OpDescribe) {
		return 0
	}
	return b.authorizedOps(ctx, r, acl.ResourceCluster, acl.ClusterName)
}

func remoteIP(r *request) string {
	if r.conn == nil || r.conn.nc == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(r.conn.nc.RemoteAddr().String())
	if err != nil {
		return ""
	}
	return host
}

// load reads what decides for principal p connected from host. Failures
// deny everything (after logging), unless a previous read can serve.
func (a *authorizer) load(ctx context.Context, p Principal, host string) *requestAuth {
	if a.super[p.Name] {
		return allowAll
	}
	ra := &requestAuth{}
	if a.policies != nil {
		policy, err := a.policy(ctx, p.Cluster, p.Name)
		if err != nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "role bindings unavailable; denying the request",
				slog.String("cluster", p.Cluster), slog.String("principal", p.Name), slog.Any("err", err))
			return &requestAuth{}
		}
		if policy != nil && policy.Super() {
			return allowAll
		}
		ra.policy = policy
	}
	bindings, err := a.clusterACLs(ctx, p.Cluster)
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "ACLs unavailable; denying the request",
			slog.String("cluster", p.Cluster), slog.String("principal", p.Name), slog.Any("err", err))
		return &requestAuth{}
	}
	ra.acls = acl.Select(bindings, p.Name, host)
	return ra
}

// loadTimeout bounds one read of a source, whoever waits for it.
const loadTimeout = 10 * time.Second

func (a *authorizer) clusterACLs(ctx context.Context, cluster string) ([]acl.Binding, error) {
	a.mu.Lock()
	c, ok := a.aclsOf[cluster]
	gen := a.aclGen
	a.mu.Unlock()
	if ok && a.now().Sub(c.read) < a.ttl {
		return c.bindings, nil
	}
	key := cluster + "\x00" + strconv.FormatUint(gen, 10)
	v, err, _ := a.loads.Do("acls\x00"+key, func() (any, error) {
		start := a.now()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		bindings, err := a.acls.ACLs(lctx, cluster)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.aclGen == gen {
			sweep(a.aclsOf, a.now(), a.ttl, func(c cachedACLs) time.Time { return c.read })
			a.aclsOf[cluster] = cachedACLs{bindings: bindings, read: start}
		}
		return bindings, nil
	})
	if err != nil {
		if ok {
			a.log.LogAttrs(ctx, slog.LevelWarn, "reading ACLs failed; using the last read",
				slog.String("cluster", cluster), slog.Any("err", err))
			return c.bindings, nil
		}
		return nil, fmt.Errorf("read ACLs of %s: %w", cluster, err)
	}
	return v.([]acl.Binding), nil
}

// aclsChanged makes the next decisions read the cluster's ACLs again.
func (a *authorizer) aclsChanged(cluster string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.aclGen++
	delete(a.aclsOf, cluster)
}

func (a *authorizer) policy(ctx context.Context, cluster, principal string) (Policy, error) {
	k := policyKey{cluster, principal}
	a.mu.Lock()
	c, ok := a.policyOf[k]
	a.mu.Unlock()
	if ok && a.now().Sub(c.read) < a.ttl {
		return c.policy, nil
	}
	v, err, _ := a.loads.Do("policy\x00"+cluster+"\x00"+principal, func() (any, error) {
		start := a.now()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		p, err := a.policies.KafkaPolicy(lctx, cluster, principal)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		sweep(a.policyOf, a.now(), a.ttl, func(c cachedPolicy) time.Time { return c.read })
		a.policyOf[k] = cachedPolicy{policy: p, read: start}
		return cachedPolicy{policy: p}, nil
	})
	if err != nil {
		if ok {
			a.log.LogAttrs(ctx, slog.LevelWarn, "reading role bindings failed; using the last read",
				slog.String("cluster", cluster), slog.String("principal", principal), slog.Any("err", err))
			return c.policy, nil
		}
		return nil, fmt.Errorf("role bindings of %s in %s: %w", principal, cluster, err)
	}
	return v.(cachedPolicy).policy, nil
}

// sweep drops expired entries once a cache has grown past maxCached.
func sweep[K comparable, V any](m map[K]V, now time.Time, ttl time.Duration, read func(V) time.Time) {
	if len(m) < maxCached {
		return
	}
	for k, v := range m {
		if now.Sub(read(v)) >= ttl {
			delete(m, k)
		}
	}
}

// authorizedPartition is resolvePartition after checking op on the topic:
// TOPIC_AUTHORIZATION_FAILED comes before anything is looked up.
func (b *Broker) authorizedPartition(ctx context.Context, r *request, memo map[string]topicLookup, op acl.Operation, what, topic string, partition int32) (storage.TopicPartition, int16) {
	if !b.allowed(ctx, r, acl.ResourceTopic, topic, op) {
		return storage.TopicPartition{}, kerr.TopicAuthorizationFailed.Code
	}
	return b.resolvePartition(ctx, r, memo, what, topic, partition)
}
