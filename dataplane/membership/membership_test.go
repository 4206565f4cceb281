package membership

import (
	"fmt"
	"testing"
)

func brokers(ids ...int32) []Broker {
	out := make([]Broker, len(ids))
	for i, id := range ids {
		out[i] = Broker{NodeID: id, Host: "127.0.0.1", Port: 9000 + id}
	}
	return out
}

func TestLeaderIsStableAndBalanced(t *testing.T) {
	three := View{Generation: 3, Brokers: brokers(1, 2, 3)}
	two := View{Generation: 4, Brokers: brokers(1, 3)}
	counts := map[int32]int{}
	const partitions = 3000
	moved := 0
	for p := range int32(partitions) {
		before, ok := three.Leader("lkc-a", "orders", p)
		if !ok {
			t.Fatal("no leader among three brokers")
		}
		again, _ := three.Leader("lkc-a", "orders", p)
		if again.NodeID != before.NodeID {
			t.Fatalf("partition %d: leader %d then %d for the same view", p, before.NodeID, again.NodeID)
		}
		counts[before.NodeID]++
		after, _ := two.Leader("lkc-a", "orders", p)
		if after.NodeID != before.NodeID {
			moved++
			if before.NodeID != 2 {
				t.Errorf("partition %d moved from live broker %d to %d when broker 2 left", p, before.NodeID, after.NodeID)
			}
		}
	}
	for id, n := range counts {
		if n < partitions/3*8/10 || n > partitions/3*12/10 {
			t.Errorf("broker %d leads %d of %d partitions; want about a third (all: %v)", id, n, partitions, counts)
		}
	}
	if moved != counts[2] {
		t.Errorf("%d partitions moved when broker 2 left; want its %d", moved, counts[2])
	}
}

func TestCoordinatorKeysAreDistinct(t *testing.T) {
	v := View{Generation: 1, Brokers: brokers(1, 2, 3, 4)}
	seen := map[int32]bool{}
	for i := range 100 {
		b, _ := v.Coordinator("lkc-a", CoordinatorGroup, fmt.Sprintf("group-%d", i))
		seen[b.NodeID] = true
	}
	if len(seen) != 4 {
		t.Errorf("100 groups placed on brokers %v; want all four used", seen)
	}
	if _, ok := (View{}).Coordinator("lkc-a", CoordinatorGroup, "g"); ok {
		t.Error("a coordinator in a view without brokers")
	}
}

func TestViewBrokerAndEpoch(t *testing.T) {
	v := View{Generation: 1 << 40, Brokers: brokers(1, 5, 9)}
	if b, ok := v.Broker(5); !ok || b.Port != 9005 {
		t.Errorf("Broker(5) = %+v, %v", b, ok)
	}
	if _, ok := v.Broker(4); ok {
		t.Error("Broker(4) found in a view without it")
	}
	if v.Epoch() != 1<<31-1 {
		t.Errorf("epoch of generation 2^40 = %d; want saturated", v.Epoch())
	}
}

func TestLiveKeepsNewestView(t *testing.T) {
	l := NewLive(1, Single(Broker{NodeID: 1}))
	var changes []int64
	l.OnChange(func(old, cur View) { changes = append(changes, cur.Generation) })
	if !l.Set(View{Generation: 2, Brokers: brokers(1, 2)}) {
		t.Error("generation 2 not taken")
	}
	if l.Set(View{Generation: 1, Brokers: brokers(1)}) {
		t.Error("an older generation replaced a newer one")
	}
	if l.Set(View{Generation: 2, Brokers: brokers(1, 2)}) {
		t.Error("the same generation reported as a change")
	}
	if got := l.View().Generation; got != 2 {
		t.Errorf("generation %d; want 2", got)
	}
	if fmt.Sprint(changes) != "[2]" {
		t.Errorf("changes %v; want [2]", changes)
	}
}

// TestMayGainMatchesPlacement checks MayGain against the placement itself:
// whenever some key moves to a broker across a change of view, MayGain says
// the change may give it keys, and Kept holds exactly for the keys the
// broker coordinates on both sides.
func TestMayGainMatchesPlacement(t *testing.T) {
	views := []View{
		{Generation: 1, Brokers: brokers(1, 2, 3)},
		{Generation: 2, Brokers: brokers(1, 3)},
		{Generation: 3, Brokers: brokers(1, 2, 3, 4)},
		{Generation: 4, Brokers: brokers(2)},
		{Generation: 5, Brokers: brokers(2, 3)},
		{Generation: 6},
	}
	for _, old := range views {
		for _, cur := range views {
			for self := int32(1); self <= 4; self++ {
				gained := 0
				for k := range 2000 {
					key := fmt.Sprintf("group-%d", k)
					a, inOld := old.Coordinator("lkc-a", CoordinatorGroup, key)
					b, inCur := cur.Coordinator("lkc-a", CoordinatorGroup, key)
					mineBefore := inOld && a.NodeID == self
					mineAfter := inCur && b.NodeID == self
					if mineAfter && !mineBefore {
						gained++
					}
					if got := Kept(self, old, cur, "lkc-a", CoordinatorGroup, key); got != (mineBefore && mineAfter) {
						t.Fatalf("%v -> %v, broker %d, key %s: Kept %v, want %v", old.Brokers, cur.Brokers, self, key, got, mineBefore && mineAfter)
					}
				}
				if gained > 0 && !MayGain(self, old, cur) {
					t.Errorf("%v -> %v: broker %d gains %d keys but MayGain says it cannot", old.Brokers, cur.Brokers, self, gained)
				}
			}
		}
	}
	// Adding a broker only takes keys away from the others.
	if MayGain(1, views[0], views[2]) {
		t.Error("MayGain(1, {1,2,3} -> {1,2,3,4}) = true, want false")
	}
	if !MayGain(1, views[0], views[1]) {
		t.Error("MayGain(1, {1,2,3} -> {1,3}) = false, want true")
	}
}
