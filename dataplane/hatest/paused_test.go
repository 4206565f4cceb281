package hatest

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/testutil"
)

// A broker paused (SIGSTOP) past its lease, whose node id another broker
// took meanwhile, must not serve the leadership it had once it runs again
// (SIGCONT): it answers Fetch with NOT_LEADER_OR_FOLLOWER, JoinGroup with
// NOT_COORDINATOR, and Metadata that names it leader of nothing.
func TestPausedBrokerLeadsNothing(t *testing.T) {
	c := startCell(t, 2)
	c.createTopic(t)
	paused, other := c.brokers[0], c.brokers[1]
	pausedID := nodeIDOf(t, paused)

	// Straight to one broker: a client whose only seed it is.
	direct := func(b *testutil.BrokerProcess) (*kgo.Client, *kgo.Broker) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RequestRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl, cl.Broker(math.MinInt32) // the first seed
	}
	metadata := func(br *kgo.Broker) *kmsg.MetadataResponse {
		t.Helper()
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(t.Context(), br)
		if err != nil {
			t.Fatalf("metadata: %v", err)
		}
		return resp
	}
	led := func(resp *kmsg.MetadataResponse, id int32) []int32 {
		var out []int32
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if rp.Leader == id {
					out = append(out, rp.Partition)
				}
			}
		}
		return out
	}
	_, toPaused := direct(paused)
	_, toOther := direct(other)
	// Both brokers know each other before the pause.
	deadline := time.Now().Add(20 * time.Second)
	for len(metadata(toPaused).Brokers) != 2 || len(metadata(toOther).Brokers) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("brokers do not see each other: %+v", metadata(toPaused).Brokers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := metadata(toPaused)
	if n := len(led(before, pausedID)); n == 0 {
		t.Fatalf("broker %d leads none of %d partitions before the pause", pausedID, partitions)
	}
	topicID := before.Topics[0].TopicID

	if err := syscall.Kill(paused.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(paused.Pid(), syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	// The other broker removes the lapsed lease, then a new broker takes
	// the freed node id.
	deadline = time.Now().Add(20 * time.Second)
	for len(metadata(toOther).Brokers) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the paused broker's lease was not removed: %+v", metadata(toOther).Brokers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.brokers = append(c.brokers, testutil.StartBrokerProcess(t, testutil.BrokerProcessOptions{
		Storage:    paused.Storage,
		Anonymous:  true,
		Membership: &testutil.MembershipOptions{NodeID: pausedID, HeartbeatInterval: heartbeat, LeaseTTL: leaseTTL},
	}))

	resume()
	// From its first answers on, and for several lease periods, the
	// resumed broker leads and coordinates nothing.
	for start := time.Now(); time.Since(start) < 2*leaseTTL; time.Sleep(100 * time.Millisecond) {
		// Its view leaves it out: the other broker leads everything.
		if got := led(metadata(toPaused), pausedID); len(got) != 0 {
			t.Fatalf("resumed broker names node %d leader of partitions %v", pausedID, got)
		}

		fetch := kmsg.NewPtrFetchRequest()
		fetch.ReplicaID, fetch.MaxWaitMillis, fetch.MaxBytes = -1, 0, 1<<20
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = topic, topicID // by name or by id, as the version asks
		for p := range int32(partitions) {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = p, 1<<20, -1
			ft.Partitions = append(ft.Partitions, fp)
		}
		fetch.Topics = append(fetch.Topics, ft)
		fr, err := fetch.RequestWith(t.Context(), toPaused)
		if err != nil {
			t.Fatalf("fetch from the resumed broker: %v", err)
		}
		for _, rt := range fr.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != kerr.NotLeaderForPartition.Code {
					t.Fatalf("resumed broker answered a fetch of partition %d with %v; want NOT_LEADER_OR_FOLLOWER",
						rp.Partition, kerr.ErrorForCode(rp.ErrorCode))
				}
			}
		}

		join := kmsg.NewPtrJoinGroupRequest()
		join.Version = 3
		join.Group, join.ProtocolType = group, "consumer"
		join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 10000, 10000
		join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0}}}
		jr, err := join.RequestWith(t.Context(), toPaused)
		if err != nil {
			t.Fatalf("join through the resumed broker: %v", err)
		}
		if jr.ErrorCode != kerr.NotCoordinator.Code {
			t.Fatalf("resumed broker answered JoinGroup with %v; want NOT_COORDINATOR", kerr.ErrorForCode(jr.ErrorCode))
		}
	}
}

// nodeIDOf reads the node id a broker process keeps in its data directory.
func nodeIDOf(t *testing.T, b *testutil.BrokerProcess) int32 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(b.DataDir, "broker-id.json"))
	if err != nil {
		t.Fatal(err)
	}
	var id struct {
		NodeID int32 `json:"node_id"`
	}
	if err := json.Unmarshal(raw, &id); err != nil {
		t.Fatal(err)
	}
	return id.NodeID
}
