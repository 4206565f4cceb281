package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/affluent-io/affluent/controlplane/cluster"
	"github.com/affluent-io/affluent/controlplane/dedicated"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/internal/config"
	"github.com/affluent-io/affluent/internal/cpwatch"
)

// dedicatedProvisioner is the provisioner of DEDICATED clusters the
// configuration asks for (nil for none) and what stops it.
func dedicatedProvisioner(cfg config.Config, grpcAddr, secret string, internal internalCredential, log *slog.Logger) (cluster.Provisioner, func(), error) {
	log = log.With("component", "dedicated")
	switch cfg.Dedicated.Provisioner {
	case config.DedicatedLocal:
		bin := cfg.Dedicated.BrokerBinary
		if bin == "" {
			self, err := os.Executable()
			if err != nil {
				return nil, nil, fmt.Errorf("dedicated brokers: find the affluent binary: %w", err)
			}
			bin = self
		}
		dir, err := filepath.Abs(filepath.Join(cfg.Storage.DataDir, "dedicated"))
		if err != nil {
			return nil, nil, err
		}
		l, err := dedicated.NewLocal(dedicated.LocalOptions{
			Binary: bin, Dir: dir, ControlPlaneAddr: grpcAddr, BrokerSecret: secret, Host: cfg.Dedicated.Host,
			Probe: probeBrokers(internal), Logger: log,
		})
		if err != nil {
			return nil, nil, err
		}
		return l, l.Close, nil
	case config.DedicatedKubernetes:
		k := cfg.Dedicated.Kubernetes
		p, err := dedicated.NewKubernetes(dedicated.KubernetesOptions{
			Namespace: k.Namespace, Image: k.Image, ControlPlaneAddr: k.ControlPlaneAddr, BrokerSecret: k.BrokerSecret,
			ObjectStore: k.ObjectStore, MetadataDB: k.MetadataDB,
			Applier: &dedicated.Kubectl{Binary: k.Kubectl, Namespace: k.Namespace}, Logger: log,
		})
		if err != nil {
			return nil, nil, err
		}
		return p, func() {}, nil
	}
	return nil, func() {}, nil
}

// probeBrokers asks the broker at addr, as the control plane, for the node
// ids of the live brokers of a cluster (Kafka Metadata).
func probeBrokers(internal internalCredential) func(ctx context.Context, clusterID, addr string) ([]int32, error) {
	return func(ctx context.Context, clusterID, addr string) ([]int32, error) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
			kgo.SASL(plain.Auth{User: cpwatch.InternalUserPrefix + clusterID, Pass: internal.secret}.AsMechanism()))
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{}
		resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
		if err != nil {
			return nil, fmt.Errorf("metadata of %s at %s: %w", clusterID, addr, err)
		}
		ids := make([]int32, len(resp.Brokers))
		for i, b := range resp.Brokers {
			ids[i] = b.NodeID
		}
		return ids, nil
	}
}

// dedicatedBootstrap resolves where the control plane's admin clients
// reach a cluster: a DEDICATED one at its own brokers, the others at the
// shared fleet.
func dedicatedBootstrap(st *store.Store, shared string) func(ctx context.Context, clusterID string) (string, error) {
	return func(ctx context.Context, clusterID string) (string, error) {
		c, err := st.ClusterByID(ctx, clusterID)
		if err != nil {
			return "", err
		}
		if c.Type != resource.ClusterDedicated {
			return shared, nil
		}
		if c.BootstrapServers == "" {
			return "", fmt.Errorf("cluster %s has no brokers yet", clusterID)
		}
		return c.BootstrapServers, nil
	}
}
