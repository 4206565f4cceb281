package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/membership"
)

// TestRoutingAmongBrokers checks a broker of a cell of three (node 1 at the
// address clients reached, 2 and 3 registered elsewhere): Metadata and
// DescribeCluster list all three, partitions and groups are placed by the
// view, what another broker leads is refused, and leader epochs follow the
// generation.
func TestRoutingAmongBrokers(t *testing.T) {
	view := membership.View{Generation: 5, Brokers: []membership.Broker{
		{NodeID: 1, Host: "10.0.0.1", Port: 9092, Rack: "a"},
		{NodeID: 2, Host: "10.0.0.2", Port: 9092, Rack: "b"},
		{NodeID: 3, Host: "10.0.0.3", Port: 9093},
	}}
	live := membership.NewLive(1, view)
	tb := startTestBroker(t, func(c *Config) { c.Membership = live })
	const partitions = 12
	if _, err := tb.store.CreateTopic(t.Context(), "lkc-a", "t", partitions, nil); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, tb.addr)
	rc.authenticate("alice", "alice-secret")

	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
	resp := rc.roundTrip(md).(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 3 || resp.Brokers[0].Host != "127.0.0.1" || resp.Brokers[1].Host != "10.0.0.2" ||
		resp.Brokers[2].Port != 9093 || resp.Brokers[1].Rack == nil || *resp.Brokers[1].Rack != "b" {
		t.Fatalf("brokers %+v; want self at the reached address, the others at theirs", resp.Brokers)
	}
	var mine, others int32 = -1, -1
	for _, p := range resp.Topics[0].Partitions {
		want, _ := view.Leader("lkc-a", "t", p.Partition)
		if p.Leader != want.NodeID || p.LeaderEpoch != 5 || len(p.Replicas) != 1 || p.Replicas[0] != p.Leader {
			t.Errorf("partition %+v; want leader %d at epoch 5", p, want.NodeID)
		}
		if p.Leader == 1 {
			mine = p.Partition
		} else {
			others = p.Partition
		}
	}
	if mine < 0 || others < 0 {
		t.Fatalf("12 partitions all on one side (mine %d, others %d)", mine, others)
	}

	// Produce and Fetch: served here only for partitions led here.
	produce := func(p int32) int16 {
		resp := rc.roundTrip(produceRequest("t", p, testBatch(t, 0, "x"))).(*kmsg.ProduceResponse)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := produce(mine); code != 0 {
		t.Errorf("produce to a partition led here: %d", code)
	}
	if code := produce(others); code != kerr.NotLeaderForPartition.Code {
		t.Errorf("produce to a partition led elsewhere: %d, want NOT_LEADER_OR_FOLLOWER", code)
	}
	fetch := func(p, epoch int32) int16 {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MaxBytes = 12, -1, 1<<20
		req.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{
			{Partition: p, CurrentLeaderEpoch: epoch, PartitionMaxBytes: 1 << 20, LogStartOffset: -1}}}}
		return rc.roundTrip(req).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode
	}
	for _, tc := range []struct {
		name      string
		partition int32
		epoch     int32
		want      int16
	}{
		{"led here, current epoch", mine, 5, 0},
		{"led here, unchecked", mine, -1, 0},
		{"led here, stale epoch", mine, 4, kerr.FencedLeaderEpoch.Code},
		{"led here, future epoch", mine, 6, kerr.UnknownLeaderEpoch.Code},
		{"led elsewhere", others, 5, kerr.NotLeaderForPartition.Code},
	} {
		if got := fetch(tc.partition, tc.epoch); got != tc.want {
			t.Errorf("fetch %s: %d, want %d", tc.name, got, tc.want)
		}
	}

	// Coordinators are placed by the same view.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKeys = 4, []string{"g1", "g2", "g3", "g4", "g5", "g6"}
	for _, c := range rc.roundTrip(fc).(*kmsg.FindCoordinatorResponse).Coordinators {
		want, _ := view.Coordinator("lkc-a", membership.CoordinatorGroup, c.Key)
		if c.ErrorCode != 0 || c.NodeID != want.NodeID || (want.NodeID != 1 && c.Host != want.Host) {
			t.Errorf("coordinator of %s: %+v; want node %d", c.Key, c, want.NodeID)
		}
	}

	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.Version, dc.EndpointType = 1, 1
	if resp := rc.roundTrip(dc).(*kmsg.DescribeClusterResponse); len(resp.Brokers) != 3 || resp.Brokers[2].Host != "10.0.0.3" {
		t.Errorf("describe cluster brokers %+v; want the three", resp.Brokers)
	}

	// Broker 1's lease lapses: it still lists itself but leads nothing.
	live.Set(membership.View{Generation: 6, Brokers: view.Brokers[1:]})
	resp = rc.roundTrip(md).(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 3 || resp.Brokers[0].NodeID != 1 {
		t.Errorf("brokers without our lease %+v; want ourselves listed first", resp.Brokers)
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.Leader == 1 || p.LeaderEpoch != 6 {
			t.Errorf("partition %+v led by a broker without a lease, or not at epoch 6", p)
		}
	}
	if code := produce(mine); code != kerr.NotLeaderForPartition.Code {
		t.Errorf("produce without a lease: %d, want NOT_LEADER_OR_FOLLOWER", code)
	}
}

func TestMembershipMustBeThisBroker(t *testing.T) {
	store := newMemStorage()
	coord := groups.NewCoordinator(store, groups.Options{})
	defer coord.Close()
	cfg := Config{NodeID: 1, Membership: membership.NewLive(2, membership.View{}), Catalog: store,
		Log: store, Groups: coord, Anonymous: &Principal{Name: "User:a", Cluster: "c"}}
	if _, err := New(cfg); err == nil {
		t.Error("a membership of node 2 accepted for node 1")
	}
}
