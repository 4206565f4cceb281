package app

import (
	"cmp"
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
// (or the first listener's), and the advertised address of every listener
// by name, so that other brokers send a client to the listener of the kind
// it came through. With SQLite it is a lease of one, unless several broker
// processes share the file (--metadata-db-shared, as a local dedicated
// cluster's brokers do).
func registerBroker(ctx context.Context, store *tiered.Store, cfg config.Config, listeners []kafkaListener) (*tiered.Lease, error) {
	var host string
	var port int32
	var registered []membership.Listener
	for i, l := range listeners {
		// The first listener is the plaintext one; the others advertise
		// what they were configured with, else their bound address.
		addr := cmp.Or(l.cfg.AdvertisedAddr, l.lis.Addr().String())
		if i == 0 {
			addr = cmp.Or(cfg.Kafka.AdvertisedAddr, l.lis.Addr().String())
		}
		h, p, err := splitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("%s listener: %w", l.cfg.Name, err)
		}
		if i == 0 {
			host, port = h, p
		}
		registered = append(registered, membership.Listener{Name: l.cfg.Name, Host: h, Port: p})
	}
	if len(listeners) == 0 && cfg.Kafka.AdvertisedAddr != "" {
		h, p, err := splitHostPort(cfg.Kafka.AdvertisedAddr)
		if err != nil {
			return nil, err
		}
		host, port = h, p
	}
	lease, err := store.Register(ctx, tiered.MemberConfig{
		NodeID:       cfg.Kafka.BrokerID,
		IdentityFile: filepath.Join(cfg.Storage.DataDir, brokerIdentityFile),
		Host:         host,
		Port:         port,
		Rack:         cfg.Kafka.Rack,
		Listeners:    registered,
	})
	if err != nil {
		return nil, fmt.Errorf("broker membership: %w", err)
	}
	return lease, nil
}

// splitHostPort splits a Kafka address.
func splitHostPort(addr string) (string, int32, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("kafka address %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("kafka address %q: bad port", addr)
	}
	return h, int32(port), nil
}

// groupPlacement tells the group coordinator which groups are this
// broker's to coordinate.
func groupPlacement(lease *tiered.Lease) func(cluster, group string) bool {
	live := lease.Live()
	return func(cluster, group string) bool { return live.Coordinates(cluster, membership.CoordinatorGroup, group) }
}

// followPlacement makes the coordinator let go of the groups whose
// coordinator moved whenever the live brokers change, so that a group is
// loaded afresh from the DB when it comes back; the others go on undisturbed.
func followPlacement(lease *tiered.Lease, coordinator *groups.Coordinator) {
	groups.FollowPlacement(coordinator, lease.Live())
}
