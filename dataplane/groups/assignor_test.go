package groups

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

func testTopics(counts map[string]int32) map[string]topicMeta {
	out := make(map[string]topicMeta, len(counts))
	i := byte(1)
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		out[name] = topicMeta{name: name, id: [16]byte{i}, partitions: counts[name]}
		i++
	}
	return out
}

// checkAssignment asserts that every partition of a subscribed topic is
// given to exactly one member subscribed to it, and nothing else is given.
func checkAssignment(t *testing.T, members []assignMember, topics map[string]topicMeta, got map[string]partitionSet) {
	t.Helper()
	subscribed := map[[16]byte]map[string]bool{}
	for _, m := range members {
		for _, name := range m.topics {
			id := topics[name].id
			if subscribed[id] == nil {
				subscribed[id] = map[string]bool{}
			}
			subscribed[id][m.id] = true
		}
	}
	owner := map[topicPartitionID]string{}
	for member, ps := range got {
		for p := range ps {
			if prev, dup := owner[p]; dup {
				t.Errorf("partition %v given to %s and %s", p, prev, member)
			}
			owner[p] = member
			if !subscribed[p.topic][member] {
				t.Errorf("partition %v given to %s, which does not subscribe to its topic", p, member)
			}
		}
	}
	for _, meta := range topics {
		if len(subscribed[meta.id]) == 0 {
			continue
		}
		for p := range meta.partitions {
			if _, ok := owner[topicPartitionID{meta.id, p}]; !ok {
				t.Errorf("partition %d of %s given to nobody", p, meta.name)
			}
		}
	}
}

func counts(got map[string]partitionSet, members []assignMember) []int {
	out := make([]int, 0, len(members))
	for _, m := range members {
		out = append(out, len(got[m.id]))
	}
	return out
}

func homogeneous(n int, topics ...string) []assignMember {
	out := make([]assignMember, n)
	for i := range out {
		out[i] = assignMember{id: fmt.Sprintf("m%02d", i), topics: topics}
	}
	return out
}

func TestUniformAssignorBalancesHomogeneousGroups(t *testing.T) {
	for _, tc := range []struct {
		members int
		counts  map[string]int32
	}{
		{1, map[string]int32{"a": 3}},
		{3, map[string]int32{"a": 12}},
		{5, map[string]int32{"a": 7, "b": 5}},
		{4, map[string]int32{"a": 2}}, // more members than partitions
		{7, map[string]int32{"a": 100, "b": 1, "c": 33}},
	} {
		t.Run(fmt.Sprintf("%d members %v", tc.members, tc.counts), func(t *testing.T) {
			topics := testTopics(tc.counts)
			members := homogeneous(tc.members, slices.Sorted(maps.Keys(tc.counts))...)
			got := assignUniform(members, topics)
			checkAssignment(t, members, topics, got)
			c := counts(got, members)
			if slices.Max(c)-slices.Min(c) > 1 {
				t.Errorf("counts %v differ by more than one", c)
			}
		})
	}
}

// A member joining takes partitions only from those that have more than
// their share; everything else stays where it is.
func TestUniformAssignorIsSticky(t *testing.T) {
	topics := testTopics(map[string]int32{"a": 12})
	two := homogeneous(2, "a")
	first := assignUniform(two, topics)
	checkAssignment(t, two, topics, first)

	three := homogeneous(3, "a")
	for i := range two {
		three[i].current = first[three[i].id]
	}
	second := assignUniform(three, topics)
	checkAssignment(t, three, topics, second)
	moved := 0
	for _, m := range two {
		lost := first[m.id].minus(second[m.id])
		moved += len(lost)
		if len(second[m.id].minus(first[m.id])) > 0 {
			t.Errorf("%s gained partitions when a member joined: %v", m.id, second[m.id].minus(first[m.id]))
		}
	}
	if moved != 4 {
		t.Errorf("%d partitions moved when a third member joined 12 partitions, want 4", moved)
	}

	// A member leaving: the others keep theirs and share its partitions.
	remaining := []assignMember{three[0], three[2]}
	remaining[0].current, remaining[1].current = second[three[0].id], second[three[2].id]
	third := assignUniform(remaining, topics)
	checkAssignment(t, remaining, topics, third)
	for _, m := range remaining {
		if lost := second[m.id].minus(third[m.id]); len(lost) > 0 {
			t.Errorf("%s lost %v when another member left", m.id, lost)
		}
	}
}

func TestUniformAssignorHeterogeneousSubscriptions(t *testing.T) {
	topics := testTopics(map[string]int32{"a": 6, "b": 6, "c": 1})
	members := []assignMember{
		{id: "x", topics: []string{"a"}},
		{id: "y", topics: []string{"a", "b"}},
		{id: "z", topics: []string{"b", "c"}},
	}
	got := assignUniform(members, topics)
	checkAssignment(t, members, topics, got)
	c := counts(got, members)
	if slices.Max(c)-slices.Min(c) > 1 {
		t.Errorf("counts %v, want 13 partitions spread within one of each other", c)
	}
}

func TestUniformAssignorIgnoresCurrentPartitionsItMayNotKeep(t *testing.T) {
	topics := testTopics(map[string]int32{"a": 2, "b": 2})
	members := []assignMember{
		// x holds b's partitions but no longer subscribes to b.
		{id: "x", topics: []string{"a"}, current: partitionSet{{[16]byte{2}, 0}: {}, {[16]byte{2}, 1}: {}}},
		{id: "y", topics: []string{"b"}},
	}
	got := assignUniform(members, topics)
	checkAssignment(t, members, topics, got)
	if len(got["y"]) != 2 {
		t.Errorf("y got %v, want both partitions of b", got["y"])
	}
}

func TestRangeAssignor(t *testing.T) {
	topics := testTopics(map[string]int32{"a": 7, "b": 7, "c": 2})
	members := homogeneous(3, "a", "b")
	members = append(members, assignMember{id: "m99", topics: []string{"c"}})
	got := assignRange(members, topics)
	checkAssignment(t, members, topics, got)
	want := map[string][]int32{"m00": {0, 1, 2}, "m01": {3, 4}, "m02": {5, 6}}
	for id, ps := range want {
		for _, topic := range []string{"a", "b"} {
			var have []int32
			for p := range got[id] {
				if p.topic == topics[topic].id {
					have = append(have, p.partition)
				}
			}
			slices.Sort(have)
			if !slices.Equal(have, ps) {
				t.Errorf("%s has %v of %s, want %v (same ranges of every topic)", id, have, topic, ps)
			}
		}
	}
	if len(got["m99"]) != 2 {
		t.Errorf("m99 has %v, want both partitions of c", got["m99"])
	}
}

func TestAssignorsWithNothingToAssign(t *testing.T) {
	for name, assign := range map[string]assignor{"uniform": assignUniform, "range": assignRange} {
		if got := assign(nil, testTopics(map[string]int32{"a": 3})); len(got) != 0 {
			t.Errorf("%s without members: %v", name, got)
		}
		members := homogeneous(2, "missing")
		if got := assign(members, testTopics(map[string]int32{"a": 3})); len(got["m00"])+len(got["m01"]) != 0 {
			t.Errorf("%s for a topic that does not exist: %v", name, got)
		}
	}
}

func TestPreferredAssignor(t *testing.T) {
	for _, tc := range []struct {
		requested []string
		want      string
	}{
		{nil, "uniform"},
		{[]string{"", ""}, "uniform"},
		{[]string{"range"}, "range"},
		{[]string{"range", "uniform"}, "uniform"},
		{[]string{"range", "range", "uniform"}, "range"},
	} {
		if got := preferredAssignor(tc.requested); got != tc.want {
			t.Errorf("preferredAssignor(%q) = %q, want %q", tc.requested, got, tc.want)
		}
	}
}

// Members joining one by one: each join takes partitions only from the
// members already there, which only lose (never swap) partitions, and the
// group stays balanced; members leaving one by one: the others only gain.
func TestUniformAssignorJoinsAndLeavesMoveOnlyWhatMust(t *testing.T) {
	topics := testTopics(map[string]int32{"a": 37, "b": 23})
	var members []assignMember
	current := map[string]partitionSet{}
	step := func(what string) {
		t.Helper()
		for i := range members {
			members[i].current = current[members[i].id]
		}
		next := assignUniform(members, topics)
		checkAssignment(t, members, topics, next)
		c := counts(next, members)
		if slices.Max(c)-slices.Min(c) > 1 {
			t.Fatalf("%s: counts %v", what, c)
		}
		for _, m := range members {
			old, now := current[m.id], next[m.id]
			if old == nil {
				continue
			}
			lost, gained := old.minus(now), now.minus(old)
			if len(lost) > 0 && len(gained) > 0 {
				t.Fatalf("%s: %s both lost %d and gained %d partitions", what, m.id, len(lost), len(gained))
			}
		}
		current = next
	}
	for i := range 12 {
		members = append(members, assignMember{id: fmt.Sprintf("m%02d", i), topics: []string{"a", "b"}})
		step(fmt.Sprintf("join of m%02d", i))
	}
	for len(members) > 1 {
		members = members[1:]
		step("leave")
	}
}
