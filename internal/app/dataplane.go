package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/affluent-io/affluent/dataplane/broker"
	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/storage/tiered"
	"github.com/affluent-io/affluent/internal/config"
)

// dataplane is the broker role: storage, group coordinator and the Kafka
// listener.
type dataplane struct {
	store  *tiered.Store
	groups *groups.Coordinator
	broker *broker.Broker
	lis    net.Listener
}

// openDataplane opens storage and the group coordinator and builds the
// broker that will serve lis.
func openDataplane(ctx context.Context, cfg config.Config, log *slog.Logger, lis net.Listener, auth broker.Authenticator) (*dataplane, error) {
	objects, err := cfg.ObjectStoreURL()
	if err != nil {
		return nil, err
	}
	meta, err := cfg.MetadataURL()
	if err != nil {
		return nil, err
	}
	store, err := tiered.Open(ctx, tiered.Config{ObjectStoreURL: objects, MetadataURL: meta, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open dataplane storage: %w", err)
	}
	d := &dataplane{store: store, lis: lis}
	d.groups = groups.NewCoordinator(store, groups.Options{Logger: log})
	d.broker, err = broker.New(broker.Config{
		AdvertisedAddr: cfg.Kafka.AdvertisedAddr,
		Logger:         log.With("component", "broker"),
		Catalog:        store,
		Log:            store,
		Groups:         d.groups,
		Authenticator:  auth,
	})
	if err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *dataplane) serve(ctx context.Context) error { return d.broker.Serve(ctx, d.lis) }

func (d *dataplane) close() {
	if d.groups != nil {
		d.groups.Close()
	}
	if d.store != nil {
		_ = d.store.Close()
	}
}

// DropClusterData deletes every topic and group of a cluster: what
// deleting a serverless cluster means for the dataplane.
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
	return errors.Join(errs...)
}

// internalPrincipal is how the control plane appears to brokers when it
// manages a cluster's topics, ACLs and quotas with the Kafka Admin API.
const internalPrincipal = "User:__affluent_controlplane"

// internalUserPrefix starts the SASL/PLAIN username of the control plane's
// admin connections; the cluster id follows it.
const internalUserPrefix = "__affluent_controlplane@"

// internalCredential lets the control plane act on any cluster of brokers
// in the same process. The secret is random per process and never leaves it.
type internalCredential struct {
	secret string
}

func newInternalCredential() (internalCredential, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return internalCredential{}, err
	}
	return internalCredential{secret: base64.RawURLEncoding.EncodeToString(b)}, nil
}

// keyVerifier checks a Kafka API key and secret; the control plane is one.
type keyVerifier interface {
	VerifyKafkaKey(ctx context.Context, key, secret string) (principal, clusterID string, err error)
}

// kafkaAuthenticator authenticates the Kafka listener's SASL/PLAIN: the
// control plane's internal credential, else a Kafka API key.
type kafkaAuthenticator struct {
	internal internalCredential
	keys     keyVerifier
}

func (a kafkaAuthenticator) AuthenticatePlain(ctx context.Context, user, pass string) (broker.Principal, error) {
	if cluster, ok := strings.CutPrefix(user, internalUserPrefix); ok {
		if cluster == "" || subtle.ConstantTimeCompare([]byte(pass), []byte(a.internal.secret)) != 1 {
			return broker.Principal{}, broker.ErrInvalidCredentials
		}
		return broker.Principal{Name: internalPrincipal, Cluster: cluster}, nil
	}
	principal, cluster, err := a.keys.VerifyKafkaKey(ctx, user, pass)
	if err != nil {
		return broker.Principal{}, fmt.Errorf("%w: %v", broker.ErrInvalidCredentials, err)
	}
	return broker.Principal{Name: principal, Cluster: cluster}, nil
}

// clusterAdmins hands the control plane one Kafka admin client per cluster,
// connected to the broker with the internal credential.
type clusterAdmins struct {
	addr     string
	internal internalCredential

	mu      sync.Mutex // guards clients
	clients map[string]*kgo.Client
}

func (c *clusterAdmins) For(_ context.Context, clusterID string) (*kadm.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[clusterID]; ok {
		return kadm.NewClient(cl), nil
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.addr),
		kgo.SASL(plain.Auth{User: internalUserPrefix + clusterID, Pass: c.internal.secret}.AsMechanism()),
	)
	if err != nil {
		return nil, fmt.Errorf("admin client for %s: %w", clusterID, err)
	}
	if c.clients == nil {
		c.clients = map[string]*kgo.Client{}
	}
	c.clients[clusterID] = cl
	return kadm.NewClient(cl), nil
}

func (c *clusterAdmins) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.clients {
		cl.Close()
	}
	c.clients = nil
}
