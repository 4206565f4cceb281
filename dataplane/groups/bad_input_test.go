package groups

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestJoinValidation(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		mutate func(*kmsg.JoinGroupRequest)
		want   int16
	}{
		{"session below group.min.session.timeout.ms", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 5999 }, kerr.InvalidSessionTimeout.Code},
		{"session above group.max.session.timeout.ms", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 1800001 }, kerr.InvalidSessionTimeout.Code},
		{"negative session", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = -1 }, kerr.InvalidSessionTimeout.Code},
		{"empty group id", func(r *kmsg.JoinGroupRequest) { r.Group = "" }, kerr.InvalidGroupID.Code},
		{"member id for a group that does not exist", func(r *kmsg.JoinGroupRequest) { r.MemberID = "m-1" }, kerr.UnknownMemberID.Code},
		{"session at the minimum", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 6000 }, kerr.MemberIDRequired.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := h.newClient("g-"+tc.name, "c").joinRequest()
			tc.mutate(req)
			if got := h.c.JoinGroup(ctx, testCluster, ClientInfo{}, req).ErrorCode; got != tc.want {
				t.Fatalf("error %d, want %d", got, tc.want)
			}
		})
	}
}

func TestEmptyGroupIDIsInvalidEverywhere(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	codes := map[string]int16{
		"SyncGroup":    h.c.SyncGroup(ctx, testCluster, &kmsg.SyncGroupRequest{Version: 3}).ErrorCode,
		"Heartbeat":    h.c.Heartbeat(ctx, testCluster, &kmsg.HeartbeatRequest{Version: 3}).ErrorCode,
		"LeaveGroup":   h.c.LeaveGroup(ctx, testCluster, &kmsg.LeaveGroupRequest{Version: 3}).ErrorCode,
		"OffsetDelete": h.c.OffsetDelete(ctx, testCluster, &kmsg.OffsetDeleteRequest{}).ErrorCode,
		"DeleteGroups": h.c.DeleteGroups(ctx, testCluster, &kmsg.DeleteGroupsRequest{Groups: []string{""}}).Groups[0].ErrorCode,
	}
	for api, code := range codes {
		if code != kerr.InvalidGroupID.Code {
			t.Errorf("%s with empty group id: error %d, want INVALID_GROUP_ID", api, code)
		}
	}
}

// TestRandomRequestsNeverPanic throws random, often nonsensical requests of
// every API at one coordinator from several goroutines while the clock
// moves: nothing may panic, every response carries its request's version
// and encodes at it.
func TestRandomRequestsNeverPanic(t *testing.T) {
	h := newHarness(t, nil, Options{MaxGroupSize: 3})
	groups := []string{"", "g1", "g2"}
	clusters := []string{testCluster, "lkc-other"}
	var memberIDs sync.Map // member ids handed out, to be reused

	pick := func(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }
	randBytes := func(r *rand.Rand) []byte {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return consumerMetadata("t1", "t2")
		}
		b := make([]byte, r.IntN(16))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	memberID := func(r *rand.Rand) string {
		if r.IntN(3) == 0 {
			return ""
		}
		var ids []string
		memberIDs.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
		if len(ids) == 0 || r.IntN(4) == 0 {
			return "bogus"
		}
		return pick(r, ids)
	}
	instance := func(r *rand.Rand) *string {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return kmsg.StringPtr("")
		}
		return kmsg.StringPtr(pick(r, []string{"i1", "i2"}))
	}
	check := func(req kmsg.Request, resp kmsg.Response) {
		if resp.GetVersion() != req.GetVersion() {
			t.Errorf("%T version %d, request version %d", resp, resp.GetVersion(), req.GetVersion())
		}
		resp.AppendTo(nil)
	}

	worker := func(seed uint64) {
		r := rand.New(rand.NewPCG(seed, seed))
		for range 300 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(3))*time.Millisecond)
			cluster, group := pick(r, clusters), pick(r, groups)
			switch r.IntN(10) {
			case 0:
				req := kmsg.NewPtrJoinGroupRequest()
				req.Version = int16(r.IntN(10))
				req.Group, req.MemberID, req.InstanceID = group, memberID(r), instance(r)
				req.SessionTimeoutMillis = int32(r.IntN(20000)) - 1000
				req.RebalanceTimeoutMillis = int32(r.IntN(20000)) - 1000
				req.ProtocolType = pick(r, []string{"", "consumer", "connect"})
				for range r.IntN(3) {
					req.Protocols = append(req.Protocols, kmsg.JoinGroupRequestProtocol{Name: pick(r, []string{"", "range", "sticky"}), Metadata: randBytes(r)})
				}
				resp := h.c.JoinGroup(ctx, cluster, ClientInfo{ClientID: "fuzz"}, req)
				if resp.MemberID != "" {
					memberIDs.Store(resp.MemberID, true)
				}
				check(req, resp)
			case 1:
				req := kmsg.NewPtrSyncGroupRequest()
				req.Version = int16(r.IntN(6))
				req.Group, req.MemberID, req.InstanceID = group, memberID(r), instance(r)
				req.Generation = int32(r.IntN(4)) - 1
				for range r.IntN(3) {
					req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: memberID(r), MemberAssignment: randBytes(r)})
				}
				check(req, h.c.SyncGroup(ctx, cluster, req))
			case 2:
				req := kmsg.NewPtrHeartbeatRequest()
				req.Version = int16(r.IntN(5))
				req.Group, req.MemberID, req.InstanceID = group, memberID(r), instance(r)
				req.Generation = int32(r.IntN(4)) - 1
				check(req, h.c.Heartbeat(ctx, cluster, req))
			case 3:
				req := kmsg.NewPtrLeaveGroupRequest()
				req.Version = int16(r.IntN(6))
				req.Group, req.MemberID = group, memberID(r)
				for range r.IntN(3) {
					req.Members = append(req.Members, kmsg.LeaveGroupRequestMember{MemberID: memberID(r), InstanceID: instance(r)})
				}
				check(req, h.c.LeaveGroup(ctx, cluster, req))
			case 4:
				req := kmsg.NewPtrOffsetCommitRequest()
				req.Version = int16(r.IntN(11))
				req.Group, req.MemberID, req.InstanceID = group, memberID(r), instance(r)
				req.Generation = int32(r.IntN(4)) - 1
				for range r.IntN(3) {
					rt := kmsg.OffsetCommitRequestTopic{Topic: pick(r, []string{"", "t1", "t2"}), TopicID: [16]byte{byte(r.IntN(2))}}
					for range r.IntN(3) {
						rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitRequestTopicPartition{Partition: int32(r.IntN(4)) - 1, Offset: r.Int64N(100) - 1})
					}
					req.Topics = append(req.Topics, rt)
				}
				check(req, h.c.OffsetCommit(ctx, cluster, req))
			case 5:
				req := kmsg.NewPtrOffsetFetchRequest()
				req.Version = int16(r.IntN(11))
				req.Group = group
				if r.IntN(2) == 0 {
					req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t1", Partitions: []int32{-1, 0, 1}}}
				}
				for range r.IntN(3) {
					rg := kmsg.OffsetFetchRequestGroup{Group: pick(r, groups)}
					if r.IntN(2) == 0 {
						rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t2", Partitions: []int32{0}}}
					}
					req.Groups = append(req.Groups, rg)
				}
				check(req, h.c.OffsetFetch(ctx, cluster, req))
			case 6:
				req := kmsg.NewPtrOffsetDeleteRequest()
				req.Group = group
				req.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: pick(r, []string{"", "t1"}), Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: int32(r.IntN(3)) - 1}}}}
				check(req, h.c.OffsetDelete(ctx, cluster, req))
			case 7:
				req := kmsg.NewPtrDescribeGroupsRequest()
				req.Version = int16(r.IntN(7))
				req.Groups = []string{group, pick(r, groups)}
				check(req, h.c.DescribeGroups(ctx, cluster, req))
			case 8:
				req := kmsg.NewPtrListGroupsRequest()
				req.Version = int16(r.IntN(6))
				req.StatesFilter = []string{pick(r, []string{"Stable", "empty", "nonsense"})}
				req.TypesFilter = []string{pick(r, []string{"classic", "consumer"})}
				check(req, h.c.ListGroups(ctx, cluster, req))
			case 9:
				req := kmsg.NewPtrDeleteGroupsRequest()
				req.Version = int16(r.IntN(4))
				req.Groups = []string{group}
				check(req, h.c.DeleteGroups(ctx, cluster, req))
			}
			cancel()
		}
	}

	var wg sync.WaitGroup
	for seed := range uint64(4) {
		wg.Go(func() { worker(seed) })
	}
	// Timers fire as the clock moves, concurrently with the requests.
	stop := make(chan struct{})
	ticker := make(chan struct{})
	go func() {
		defer close(ticker)
		for {
			select {
			case <-stop:
				return
			default:
				h.clock.Advance(time.Second)
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-ticker
	// Let every rebalance finish so no request is left waiting.
	h.clock.Advance(time.Hour)
}
