package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/broker"
	"github.com/affluent-io/affluent/dataplane/credstore"
	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/storage"
	"github.com/affluent-io/affluent/dataplane/storage/tiered"
	"github.com/affluent-io/affluent/internal/config"
	"github.com/affluent-io/affluent/internal/cpwatch"
)

// dataplane is the broker role: storage, the SCRAM credential store, the
// group coordinator and the Kafka listeners.
type dataplane struct {
	store     *tiered.Store
	lease     *tiered.Lease // this broker's membership among those sharing the metadata DB
	creds     *credstore.Store
	groups    *groups.Coordinator
	broker    *broker.Broker
	listeners []kafkaListener
}

// kafkaListener is a socket and how the broker serves it.
type kafkaListener struct {
	lis net.Listener
	cfg broker.Listener
}

// dataplaneOptions are what openDataplane wires into the broker.
type dataplaneOptions struct {
	// listeners: the SASL_PLAINTEXT one first, then SASL_SSL and mTLS.
	listeners []kafkaListener
	// watch is the control plane's config as this broker last received
	// it: it authenticates Kafka credentials (but SCRAM, the dataplane's
	// own), gives the role bindings the broker authorizes with beside the
	// ACLs of the dataplane metadata DB, and takes failed authentications
	// to the audit log.
	watch   *cpwatch.Client
	metrics prometheus.Registerer
}

// openDataplane opens storage, the credential store and the group
// coordinator and builds the broker that will serve the listeners,
// authorizing with policies and the ACLs kept in the dataplane metadata DB.
func openDataplane(ctx context.Context, cfg config.Config, log *slog.Logger, o dataplaneOptions) (*dataplane, error) {
	objects, err := cfg.ObjectStoreURL()
	if err != nil {
		return nil, err
	}
	meta, err := cfg.MetadataURL()
	if err != nil {
		return nil, err
	}
	store, err := tiered.Open(ctx, tiered.Config{
		ObjectStoreURL:     objects,
		MetadataURL:        meta,
		SharedMetadata:     cfg.Storage.MetadataShared,
		Logger:             log,
		LocalCacheDir:      cfg.Storage.LocalCacheDir,
		LocalCacheBytes:    cfg.Storage.LocalCacheSize.Int64(),
		CacheBytes:         cfg.Storage.MemoryCacheSize.Int64(),
		CompactionInterval: cfg.Storage.CompactionInterval,
		Metrics:            o.metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("open dataplane storage: %w", err)
	}
	d := &dataplane{store: store, listeners: o.listeners}
	if d.creds, err = credstore.Open(ctx, meta); err != nil {
		d.close()
		return nil, fmt.Errorf("open dataplane credential store: %w", err)
	}
	if d.lease, err = registerBroker(ctx, store, cfg, o.listeners); err != nil {
		d.close()
		return nil, err
	}
	d.groups = groups.NewCoordinator(store, groups.Options{Logger: log, Coordinates: groupPlacement(d.lease)})
	followPlacement(d.lease, d.groups)
	d.broker, err = broker.New(broker.Config{
		NodeID:         d.lease.NodeID(),
		Membership:     d.lease.Live(),
		AdvertisedAddr: cfg.Kafka.AdvertisedAddr,
		Logger:         log.With("component", "broker"),
		Catalog:        store,
		Log:            store,
		Groups:         d.groups,
		Authenticator:  o.watch,
		Tokens:         o.watch,
		Certificates:   o.watch,
		Scram:          d.creds,
		OnAuthFailure:  o.watch.ReportAuthFailure,
		MaxReauth:      cfg.Kafka.MaxReauth,
		Metrics:        o.metrics,
		ACLs:           store,
		Policies:       o.watch,
		SuperUsers:     []string{cpwatch.InternalPrincipal},
		ClientQuotas:   store,
		// Limits and usage go through the same watch in `affluent dev`
		// and in a broker of its own: one path.
		Limits:       o.watch,
		StorageUsage: store,
		UsageSink:    o.watch,
	})
	if err != nil {
		d.close()
		return nil, err
	}
	// Revocation: each new snapshot is checked against the open sessions,
	// and a session whose credential is gone is closed within moments of
	// the change, whether or not clients re-authenticate (KIP-368).
	d.broker.CheckSessions(o.watch.CheckSession)
	o.watch.OnSnapshot(func() { d.broker.CheckSessions(o.watch.CheckSession) })
	return d, nil
}

// serve serves every listener until ctx ends or one fails.
func (d *dataplane) serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(d.listeners))
	for i, l := range d.listeners {
		go func() {
			var err error
			if i == 0 {
				err = d.broker.Serve(ctx, l.lis)
			} else {
				err = d.broker.ServeListener(ctx, l.lis, l.cfg)
			}
			if err != nil {
				err = fmt.Errorf("%s listener: %w", l.cfg.Name, err)
			}
			errc <- err
			cancel()
		}()
	}
	// A broker whose node id another process took (its lease lapsed, say
	// while it was paused, and the id was claimed) must not serve under
	// it: it stops, and the process with it. Restarted, it registers
	// afresh: under the same id if that is free again, else it waits
	// and fails with ErrNodeIDTaken.
	lostc := make(chan error, 1)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-d.lease.Lost():
			lostc <- fmt.Errorf("node id %d: %w", d.lease.NodeID(), tiered.ErrLeaseLost)
			cancel()
		case <-ctx.Done():
		}
	}()
	var errs []error
	for range d.listeners {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
	}
	cancel()
	<-watched
	select {
	case err := <-lostc:
		errs = append(errs, err)
	default:
	}
	return errors.Join(errs...)
}

func (d *dataplane) close() {
	if d.lease != nil {
		// Given up at once, so that other brokers take over without
		// waiting for it to lapse.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = d.lease.Close(ctx)
		cancel()
	}
	if d.groups != nil {
		d.groups.Close()
	}
	if d.creds != nil {
		_ = d.creds.Close()
	}
	if d.store != nil {
		_ = d.store.Close()
	}
}

// DropClusterData deletes every topic, group, transactional id, ACL and client quota of a
// cluster: what deleting a serverless cluster means for the dataplane.
func (d *dataplane) DropClusterData(ctx context.Context, cluster string) error {
	topics, err := d.store.Topics(ctx, cluster)
	if err != nil {
		return fmt.Errorf("list topics of %s: %w", cluster, err)
	}
	var errs []error
	for _, t := range topics {
		if err := d.store.DeleteTopic(ctx, cluster, t.Name); err != nil {
			errs = append(errs, fmt.Errorf("delete topic %s of %s: %w", t.Name, cluster, err))
		}
	}
	if err := d.groups.DeleteCluster(ctx, cluster); err != nil {
		errs = append(errs, fmt.Errorf("delete groups of %s: %w", cluster, err))
	}
	if err := d.store.DeleteClusterTransactions(ctx, cluster); err != nil {
		errs = append(errs, err)
	}
	if err := d.creds.DeleteCluster(ctx, cluster); err != nil {
		errs = append(errs, err)
	}
	every := acl.Filter{ResourceType: acl.ResourceAny, PatternType: acl.PatternAny, Operation: acl.OpAny, Permission: acl.PermissionAny}
	if _, err := d.store.DeleteACLs(ctx, cluster, []acl.Filter{every}); err != nil {
		errs = append(errs, err)
	}
	quotas, err := d.store.ClientQuotas(ctx, cluster)
	if err != nil {
		errs = append(errs, err)
	}
	var removals []storage.QuotaChange
	for _, q := range quotas {
		removals = append(removals, storage.QuotaChange{Entity: q.Entity, Remove: slices.Collect(maps.Keys(q.Values))})
	}
	if err := d.store.AlterClientQuotas(ctx, cluster, removals); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// internalCredential is in app.go.

// adminDropper deletes a cluster's data through the brokers' Kafka Admin
// API with the internal credential: how a control plane without a broker
// in its process empties a deleted cluster. It deletes topics, groups,
// ACLs, client quotas and SCRAM credentials, and reports every failure.
type adminDropper struct{ admins *clusterAdmins }

func (a adminDropper) DropClusterData(ctx context.Context, cluster string) error {
	adm, err := a.admins.For(ctx, cluster)
	if err != nil {
		return err
	}
	var errs []error
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("list topics of %s: %w", cluster, err)
	}
	if names := topics.Names(); len(names) > 0 {
		resps, err := adm.DeleteTopics(ctx, names...)
		errs = append(errs, err)
		for _, r := range resps {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("delete topic %s of %s: %w", r.Topic, cluster, r.Err))
			}
		}
	}
	groups, err := adm.ListGroups(ctx)
	errs = append(errs, err)
	if names := groups.Groups(); err == nil && len(names) > 0 {
		resps, err := adm.DeleteGroups(ctx, names...)
		errs = append(errs, err)
		for _, r := range resps {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("delete group %s of %s: %w", r.Group, cluster, r.Err))
			}
		}
	}
	every := kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).
		Operations(kadm.OpAny).Allow().Deny().AllowHosts().DenyHosts()
	_, err = adm.DeleteACLs(ctx, every)
	errs = append(errs, err)
	quotas, err := adm.DescribeClientQuotas(ctx, false, nil)
	errs = append(errs, err)
	var removals []kadm.AlterClientQuotaEntry
	for _, q := range quotas {
		e := kadm.AlterClientQuotaEntry{Entity: q.Entity}
		for _, v := range q.Values {
			e.Ops = append(e.Ops, kadm.AlterClientQuotaOp{Key: v.Key, Remove: true})
		}
		removals = append(removals, e)
	}
	if len(removals) > 0 {
		_, err = adm.AlterClientQuotas(ctx, removals)
		errs = append(errs, err)
	}
	scrams, err := adm.DescribeUserSCRAMs(ctx)
	errs = append(errs, err)
	var dels []kadm.DeleteSCRAM
	for user, d := range scrams {
		for _, ci := range d.CredInfos {
			dels = append(dels, kadm.DeleteSCRAM{User: user, Mechanism: ci.Mechanism})
		}
	}
	if len(dels) > 0 {
		_, err = adm.AlterUserSCRAMs(ctx, dels, nil)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// adminIdleTimeout is how long a cluster's admin client may sit unused
// before it is closed: admin calls come in bursts (an apply, a console
// page), and an idle tenant should cost the broker no connection.
const adminIdleTimeout = 5 * time.Second

// clusterAdmins hands the control plane one Kafka admin client per cluster,
// connected to the broker with the internal credential, and closes those
// left idle.
type clusterAdmins struct {
	addr     string
	internal internalCredential
	// resolve, when set, is the bootstrap of a cluster (a DEDICATED one's
	// own brokers); addr otherwise.
	resolve func(ctx context.Context, clusterID string) (string, error)

	mu      sync.Mutex // guards clients and sweeping
	clients map[string]*adminClient
	// sweeping is set while a goroutine closes idle clients; it exits
	// when none is left, and close waits for it.
	sweeping bool
	swept    sync.WaitGroup
	closed   bool
}

type adminClient struct {
	kgo      *kgo.Client
	addr     string
	lastUsed time.Time
}

func (c *clusterAdmins) For(ctx context.Context, clusterID string) (*kadm.Client, error) {
	addr := c.addr
	if c.resolve != nil {
		var err error
		if addr, err = c.resolve(ctx, clusterID); err != nil {
			return nil, fmt.Errorf("brokers of %s: %w", clusterID, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("admin clients closed")
	}
	if cl, ok := c.clients[clusterID]; ok {
		if cl.addr == addr {
			cl.lastUsed = time.Now()
			return kadm.NewClient(cl.kgo), nil
		}
		// The cluster's brokers moved (a dedicated cluster resized or
		// restarted): a new client seeds from the new list. The old one
		// is closed a little later, after the calls it may still serve.
		old := cl.kgo
		time.AfterFunc(adminIdleTimeout, old.Close)
		delete(c.clients, clusterID)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(addr, ",")...),
		kgo.SASL(plain.Auth{User: cpwatch.InternalUserPrefix + clusterID, Pass: c.internal.secret}.AsMechanism()),
	)
	if err != nil {
		return nil, fmt.Errorf("admin client for %s: %w", clusterID, err)
	}
	if c.clients == nil {
		c.clients = map[string]*adminClient{}
	}
	c.clients[clusterID] = &adminClient{kgo: cl, addr: addr, lastUsed: time.Now()}
	if !c.sweeping {
		c.sweeping = true
		c.swept.Add(1)
		go c.sweep()
	}
	return kadm.NewClient(cl), nil
}

// sweep closes clients idle for adminIdleTimeout until none is left. A
// client in use while being closed fails its call, which the API reports
// as retriable; the timeout makes that rare.
func (c *clusterAdmins) sweep() {
	defer c.swept.Done()
	for {
		time.Sleep(adminIdleTimeout / 2)
		c.mu.Lock()
		var idle []*kgo.Client
		for id, cl := range c.clients {
			if c.closed || time.Since(cl.lastUsed) > adminIdleTimeout {
				idle = append(idle, cl.kgo)
				delete(c.clients, id)
			}
		}
		done := len(c.clients) == 0
		if done {
			c.sweeping = false
		}
		c.mu.Unlock()
		for _, cl := range idle {
			cl.Close()
		}
		if done {
			return
		}
	}
}

func (c *clusterAdmins) close() {
	c.mu.Lock()
	c.closed = true
	for id, cl := range c.clients {
		cl.kgo.Close()
		delete(c.clients, id)
	}
	c.mu.Unlock()
	c.swept.Wait()
}
