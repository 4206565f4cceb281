package app

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/membership"
	"github.com/affluent-io/affluent/dataplane/storage/tiered"
	"github.com/affluent-io/affluent/internal/config"
)

// brokerIdentityFile, in DATA_DIR, keeps a broker's node id across
// restarts.
const brokerIdentityFile = "broker-id.json"

// registerBroker takes this broker's lease among the brokers sharing the
// dataplane metadata DB, advertising the Kafka address clients are given
// (or the first listener's). With SQLite it is a lease of one, unless
// several broker processes share the file (--metadata-db-shared, as a
// local dedicated cluster's brokers do).
func registerBroker(ctx context.Context, store *tiered.Store, cfg config.Config, listeners []kafkaListener) (*tiered.Lease, error) {
	addr := cfg.Kafka.AdvertisedAddr
	if addr == "" && len(listeners) > 0 {
		addr = listeners[0].lis.Addr().String()
	}
	var host string
	var port int
	if addr != "" {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("kafka address %q: %w", addr, err)
		}
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("kafka address %q: bad port", addr)
		}
		host = h
	}
	lease, err := store.Register(ctx, tiered.MemberConfig{
		NodeID:       cfg.Kafka.BrokerID,
		IdentityFile: filepath.Join(cfg.Storage.DataDir, brokerIdentityFile),
		Host:         host,
		Port:         int32(port),
		Rack:         cfg.Kafka.Rack,
	})
	if err != nil {
		return nil, fmt.Errorf("broker membership: %w", err)
	}
	return lease, nil
}

// groupPlacement tells the group coordinator which groups are this
// broker's to coordinate.
func groupPlacement(lease *tiered.Lease) func(cluster, group string) bool {
	live := lease.Live()
	return func(cluster, group string) bool { return live.Coordinates(cluster, membership.CoordinatorGroup, group) }
}

// followPlacement makes the coordinator let go of its groups whenever the
// live brokers change, so that a group whose coordinator moved is loaded
// afresh from the DB when it comes back (the others resume from it without
// a rebalance).
func followPlacement(lease *tiered.Lease, coordinator *groups.Coordinator) {
	lease.Live().OnChange(func(_, _ membership.View) { coordinator.ReleaseAll() })
}
