package groups

// Server-side assignors of KIP-848 consumer groups. A member names one in
// ServerAssignor; the group uses the one most of its members ask for, and
// "uniform" when none does, as Kafka's group.consumer.assignors default.

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

const (
	uniformAssignorName = "uniform"
	rangeAssignorName   = "range"
	defaultAssignorName = uniformAssignorName
)

// topicMeta is a topic as the assignors see it.
type topicMeta struct {
	name       string
	id         [16]byte
	partitions int32
}

// assignMember is a member as the assignors see it: its subscribed topics
// (names of existing topics, sorted) and the partitions of its current
// target, which the uniform assignor keeps where it can.
type assignMember struct {
	id      string
	topics  []string
	current partitionSet
}

// assignor computes a target assignment: member id to partitions. Every
// partition of a subscribed topic goes to exactly one member subscribed to
// it; a member absent from the result gets nothing.
type assignor func(members []assignMember, topics map[string]topicMeta) map[string]partitionSet

func assignorByName(name string) (assignor, bool) {
	switch name {
	case uniformAssignorName:
		return assignUniform, true
	case rangeAssignorName:
		return assignRange, true
	}
	return nil, false
}

// preferredAssignor is the assignor most members ask for (ties to the
// default, then to the smaller name); the default when none asks.
func preferredAssignor(requested []string) string {
	votes := map[string]int{}
	for _, name := range requested {
		if name != "" {
			votes[name]++
		}
	}
	best, bestVotes := defaultAssignorName, votes[defaultAssignorName]
	for _, name := range slices.Sorted(maps.Keys(votes)) {
		if votes[name] > bestVotes {
			best, bestVotes = name, votes[name]
		}
	}
	return best
}

// assignRange gives each member contiguous ranges of each topic it
// subscribes to, members in id order, the first ones one more when the
// partitions do not divide evenly; members with the same subscriptions get
// the same partition numbers of every topic (co-partitioning).
func assignRange(members []assignMember, topics map[string]topicMeta) map[string]partitionSet {
	out := make(map[string]partitionSet, len(members))
	subscribers := subscribersByTopic(members)
	for _, name := range slices.Sorted(maps.Keys(subscribers)) {
		meta, ok := topics[name]
		if !ok {
			continue
		}
		ids := subscribers[name]
		n := int32(len(ids))
		per, extra := meta.partitions/n, meta.partitions%n
		next := int32(0)
		for i, id := range ids {
			count := per
			if int32(i) < extra {
				count++
			}
			for p := next; p < next+count; p++ {
				addAssigned(out, id, topicPartitionID{meta.id, p})
			}
			next += count
		}
	}
	return out
}

// assignUniform spreads partitions so that members' partition counts differ
// by at most one among members subscribed alike, keeping each partition
// with its current member where that does not unbalance the group, so a
// rebalance moves as few partitions as it can.
func assignUniform(members []assignMember, topics map[string]topicMeta) map[string]partitionSet {
	out := make(map[string]partitionSet, len(members))
	counts := make(map[string]int, len(members))
	subscribers := subscribersByTopic(members)
	eligible := make(map[[16]byte][]string) // topic id → members subscribed
	var all []topicPartitionID
	for _, name := range slices.Sorted(maps.Keys(subscribers)) {
		meta, ok := topics[name]
		if !ok {
			continue
		}
		eligible[meta.id] = subscribers[name]
		for p := range meta.partitions {
			all = append(all, topicPartitionID{meta.id, p})
		}
	}
	isEligible := func(member string, p topicPartitionID) bool {
		_, ok := slices.BinarySearch(eligible[p.topic], member)
		return ok
	}

	// Keep current owners first; collect the rest.
	owner := make(map[topicPartitionID]string, len(all))
	for _, m := range members {
		for p := range m.current {
			if _, taken := owner[p]; !taken && isEligible(m.id, p) {
				owner[p] = m.id
			}
		}
	}
	var unassigned []topicPartitionID
	for _, p := range all {
		if id, ok := owner[p]; ok {
			addAssigned(out, id, p)
			counts[id]++
		} else {
			unassigned = append(unassigned, p)
		}
	}
	// Partitions with the fewest candidates are placed first.
	slices.SortStableFunc(unassigned, func(a, b topicPartitionID) int {
		return cmp.Compare(len(eligible[a.topic]), len(eligible[b.topic]))
	})
	for _, p := range unassigned {
		id := leastLoaded(eligible[p.topic], counts, "")
		addAssigned(out, id, p)
		counts[id]++
	}
	rebalanceUniform(out, counts, eligible, members)
	return out
}

// rebalanceUniform moves partitions from the most to less loaded eligible
// members until no move narrows a gap of more than one. Each move lowers
// the sum of squared counts, so it ends. The most loaded member gives
// partitions away until it is no longer the most loaded, so one member
// holding everything that many join costs one pass, and members that are
// already balanced lose nothing.
func rebalanceUniform(out map[string]partitionSet, counts map[string]int, eligible map[[16]byte][]string, members []assignMember) {
	ids := make([]string, 0, len(members))
	for _, m := range members {
		ids = append(ids, m.id)
	}
	for {
		slices.SortStableFunc(ids, func(a, b string) int {
			if c := cmp.Compare(counts[b], counts[a]); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		moved := false
		for k, from := range ids {
			next := 0 // the load of the next most loaded member
			if k+1 < len(ids) {
				next = counts[ids[k+1]]
			}
			// The partitions added last are given up first, so that
			// earlier (kept) ones stay.
			held := out[from].sorted()
			for i := len(held) - 1; i >= 0; i-- {
				p := held[i]
				to := leastLoaded(eligible[p.topic], counts, from)
				if to == "" || counts[to] >= counts[from]-1 {
					continue
				}
				delete(out[from], p)
				addAssigned(out, to, p)
				counts[from]--
				counts[to]++
				moved = true
				if counts[from] <= next {
					break
				}
			}
			if moved {
				break
			}
		}
		if !moved {
			return
		}
	}
}

// leastLoaded is the candidate with the fewest partitions (ties to the
// smaller id), skipping except; "" when there is none.
func leastLoaded(candidates []string, counts map[string]int, except string) string {
	best := ""
	for _, id := range candidates {
		if id == except {
			continue
		}
		if best == "" || counts[id] < counts[best] {
			best = id
		}
	}
	return best
}

// subscribersByTopic maps each subscribed topic to its members, sorted.
func subscribersByTopic(members []assignMember) map[string][]string {
	out := make(map[string][]string)
	for _, m := range members {
		for _, t := range m.topics {
			out[t] = append(out[t], m.id)
		}
	}
	for t := range out {
		slices.Sort(out[t])
		out[t] = slices.Compact(out[t])
	}
	return out
}

func addAssigned(out map[string]partitionSet, member string, p topicPartitionID) {
	s := out[member]
	if s == nil {
		s = partitionSet{}
		out[member] = s
	}
	s[p] = struct{}{}
}
