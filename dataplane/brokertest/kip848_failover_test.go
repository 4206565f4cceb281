package brokertest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/testutil"
)

// TestConsumerProtocolCoordinatorFailover stops the broker coordinating a
// KIP-848 group of a cell sharing PostgreSQL and the object store: another
// broker takes the group over from the metadata DB, and its members go on
// at their epochs with their partitions, none lost or revoked.
func TestConsumerProtocolCoordinatorFailover(t *testing.T) {
	storage := testutil.StorageOptions{MetadataURL: testutil.PostgresURL(t)}
	if testutil.BrokerBackend == testutil.BackendS3 {
		storage.ObjectStoreURL = testutil.S3URL(t)
	} else {
		storage.ObjectStoreURL = "file://" + filepath.ToSlash(filepath.Join(t.TempDir(), "objects"))
	}
	var brokers []*testutil.BrokerHandle
	for range 3 {
		brokers = append(brokers, testutil.StartBroker(t, testutil.BrokerOptions{
			Quiet:      os.Getenv("KIP848_DEBUG") == "",
			Storage:    storage,
			Groups:     fastConsumerGroups,
			Membership: &testutil.MembershipOptions{NodeID: -1, HeartbeatInterval: 200 * time.Millisecond, LeaseTTL: 1500 * time.Millisecond},
		}))
	}
	// Until every broker sees the others, two may each think they
	// coordinate the group; the test is about failover, not that.
	for _, h := range brokers {
		deadline := time.Now().Add(10 * time.Second)
		for len(h.Lease.Live().View().Brokers) != len(brokers) {
			if time.Now().After(deadline) {
				t.Fatalf("broker %d sees %v, want all %d brokers", h.Lease.NodeID(), h.Lease.Live().View().Brokers, len(brokers))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	seeds := kgo.SeedBrokers(brokers[0].Addr, brokers[1].Addr, brokers[2].Addr)
	const topic, group, partitions = "failover-848", "failover-group", 6
	createTopic(t, brokers[0].Admin(t), topic, partitions, nil)
	producer := brokers[0].Client(t, seeds, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	admin := brokers[0].Client(t, seeds)
	produceValues(t, producer, topic, 0, 600)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	a := startMember848(t, brokers[0], "a", group, topic, seeds, kgo.MetadataMinAge(250*time.Millisecond))
	b := startMember848(t, brokers[0], "b", group, topic, seeds, kgo.MetadataMinAge(250*time.Millisecond))
	a.run(ctx, &wg)
	b.run(ctx, &wg)
	waitAssigned(t, admin, group, partitions, a, b)
	waitConsumed(t, 600, a, b)
	before := describe848(t, admin, group)
	aOwned, bOwned := a.ownedPartitions(), b.ownedPartitions()
	markA, markB := a.revocations(), b.revocations()

	// Stop the coordinator.
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	found, err := req.RequestWith(testContext(t), admin)
	if err != nil || found.ErrorCode != 0 {
		t.Fatalf("find coordinator: %v %+v", err, found)
	}
	stopped := -1
	for i, h := range brokers {
		if h.Lease.NodeID() == found.NodeID {
			stopped = i
			h.Stop()
		}
	}
	if stopped < 0 {
		t.Fatalf("coordinator %d is none of the brokers", found.NodeID)
	}

	produceValues(t, producer, topic, 600, 1200)
	waitConsumed(t, 1200, a, b)
	// The new coordinator has the group as it was: same members and
	// epochs, not a group formed again.
	// A new client: franz-go keeps dialing a coordinator that is gone.
	var live []string
	for i, h := range brokers {
		if i != stopped {
			live = append(live, h.Addr)
		}
	}
	admin = brokers[(stopped+1)%len(brokers)].Client(t, kgo.SeedBrokers(live...))
	var after kmsg.ConsumerGroupDescribeResponseGroup
	deadline := time.Now().Add(30 * time.Second)
	for {
		after = describe848(t, admin, group)
		if after.ErrorCode == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	ids := func(g kmsg.ConsumerGroupDescribeResponseGroup) []string {
		var out []string
		for _, m := range g.Members {
			out = append(out, m.MemberID)
		}
		slices.Sort(out)
		return out
	}
	if after.ErrorCode != 0 || after.Epoch < before.Epoch || !slices.Equal(ids(after), ids(before)) {
		t.Errorf("after failover the group is %+v, want members %v at epoch %d or later", after, ids(before), before.Epoch)
	}
	if got := a.ownedPartitions(); !slices.Equal(got, aOwned) {
		t.Errorf("a owns %v after failover, owned %v before", got, aOwned)
	}
	if got := b.ownedPartitions(); !slices.Equal(got, bOwned) {
		t.Errorf("b owns %v after failover, owned %v before", got, bOwned)
	}
	a.checkHealthy(t)
	b.checkHealthy(t)
	if r := append(a.revokedSince(markA), b.revokedSince(markB)...); len(r) > 0 {
		t.Errorf("partitions %v revoked during the failover, want none", r)
	}
	t.Logf("coordinator %d stopped; epoch %d → %d", found.NodeID, before.Epoch, after.Epoch)
	cancel()
	wg.Wait()
	a.cl.Close()
	b.cl.Close()
}
