package groups

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCoordinationMovesBetweenBrokers runs two coordinators on one Store,
// as two brokers do, with the group placed on one then the other: the one
// that does not coordinate it answers NOT_COORDINATOR and lists nothing,
// and the one taking over resumes the group and its offsets from the Store
// without a rebalance.
func TestCoordinationMovesBetweenBrokers(t *testing.T) {
	store := newMemStore()
	var owner atomic.Int32 // 0: broker a, 1: broker b
	placed := func(id int32) func(string, string) bool {
		return func(string, string) bool { return owner.Load() == id }
	}
	ha := newHarness(t, store, Options{Coordinates: placed(0)})
	hb := newHarness(t, store, Options{Coordinates: placed(1)})

	m1, m2 := ha.newClient("g", "m1"), ha.newClient("g", "m2")
	ha.stableGroup(m1, m2)
	if code := m1.commit("orders", 0, 10); code != 0 {
		t.Fatalf("commit on the coordinator: %d", code)
	}
	if code := (&client{h: hb, cluster: testCluster, group: "g", memberID: m1.memberID, generation: m1.generation}).heartbeat(); code != kerr.NotCoordinator.Code {
		t.Errorf("heartbeat on the other broker: %d, want NOT_COORDINATOR", code)
	}
	if n := len(listGroups(hb)); n != 0 {
		t.Errorf("the other broker lists %d groups, want none", n)
	}

	// The placement moves to b: a lets go, b takes the group from the Store.
	owner.Store(1)
	ha.c.ReleaseAll()
	hb.c.ReleaseAll()
	if code := m2.heartbeat(); code != kerr.NotCoordinator.Code {
		t.Errorf("heartbeat on the old coordinator: %d, want NOT_COORDINATOR", code)
	}
	m1.h, m2.h = hb, hb
	for _, m := range []*client{m1, m2} {
		if code := m.heartbeat(); code != 0 {
			t.Fatalf("heartbeat of %s on the new coordinator: %d, want the group resumed", m.clientID, code)
		}
	}
	if code := m2.commit("orders", 0, 20); code != 0 {
		t.Fatalf("commit on the new coordinator: %d", code)
	}
	if v := hb.view(testCluster, "g"); v.state != stateStable || v.generation != m1.generation {
		t.Errorf("resumed group %+v; want Stable at generation %d", v, m1.generation)
	}
	if groups := listGroups(hb); len(groups) != 1 || groups[0].Group != "g" {
		t.Errorf("new coordinator lists %+v; want g", groups)
	}

	// And back: a reloads what b saved.
	owner.Store(0)
	ha.c.ReleaseAll()
	hb.c.ReleaseAll()
	m1.h = ha
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group = "g"
	resp := ha.c.OffsetFetch(context.Background(), testCluster, req)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].Offset != 20 {
		t.Errorf("offsets on a after moving back: %+v; want orders/0 at 20", resp)
	}
	if code := m1.commit("orders", 0, 30); code != 0 {
		t.Errorf("commit after moving back: %d", code)
	}
}

func listGroups(h *harness) []kmsg.ListGroupsResponseGroup {
	req := kmsg.NewPtrListGroupsRequest()
	req.Version = 4
	return h.c.ListGroups(context.Background(), testCluster, req).Groups
}
