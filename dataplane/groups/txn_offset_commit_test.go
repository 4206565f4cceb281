package groups

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func txnCommitRequest(version int16, group string, generation int32, memberID string) *kmsg.TxnOffsetCommitRequest {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version, req.TransactionalID, req.ProducerID = version, "tx", 7
	req.Group, req.Generation, req.MemberID = group, generation, memberID
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "orders"
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = 0, 42, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func TestTxnOffsetCommit(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, b := h.newClient("g", "a"), h.newClient("g", "b")
	h.stableGroup(a, b)

	var staged []CommittedOffset
	stageCode := int16(0)
	stage := func(_ context.Context, offsets []CommittedOffset) int16 {
		staged = append(staged, offsets...)
		return stageCode
	}
	for _, tc := range []struct {
		name       string
		version    int16
		generation int32
		member     string
		want       int16
	}{
		{"member of the generation", 3, a.generation, a.memberID, 0},
		{"older generation", 3, a.generation - 1, a.memberID, kerr.IllegalGeneration.Code},
		{"unknown member", 3, a.generation, "nobody", kerr.UnknownMemberID.Code},
		{"no member given (v3)", 3, -1, "", 0},
		{"before KIP-447 (v2)", 2, 5, "whoever", 0},
	} {
		staged = nil
		resp := h.c.TxnOffsetCommit(ctx, testCluster, txnCommitRequest(tc.version, "g", tc.generation, tc.member), stage)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, kerr.ErrorForCode(code), kerr.ErrorForCode(tc.want))
		}
		if wantStaged := tc.want == 0; (len(staged) == 1) != wantStaged {
			t.Errorf("%s: staged %+v", tc.name, staged)
		} else if wantStaged && (staged[0].Topic != "orders" || staged[0].Offset != 42 || staged[0].LeaderEpoch != -1) {
			t.Errorf("%s: staged %+v", tc.name, staged[0])
		}
	}
	// Nothing staged is committed: the group's offsets are the
	// transaction coordinator's to make visible.
	if n := h.store.offsetCount(testCluster, "g"); n != 0 {
		t.Fatalf("%d offsets committed by TxnOffsetCommit alone", n)
	}
	stageCode = kerr.ProducerFenced.Code
	resp := h.c.TxnOffsetCommit(ctx, testCluster, txnCommitRequest(3, "g", a.generation, a.memberID), stage)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.ProducerFenced.Code {
		t.Fatalf("stage refused: %v, want its code", kerr.ErrorForCode(code))
	}
	if resp := h.c.TxnOffsetCommit(ctx, testCluster, txnCommitRequest(3, "", -1, ""), stage); resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("empty group: %+v", resp)
	}

	elsewhere := newHarness(t, nil, Options{Coordinates: func(string, string) bool { return false }})
	if resp := elsewhere.c.TxnOffsetCommit(ctx, testCluster, txnCommitRequest(3, "g", -1, ""), stage); resp.Topics[0].Partitions[0].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("group coordinated elsewhere: %+v", resp)
	}
}
