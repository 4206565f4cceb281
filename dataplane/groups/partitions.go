package groups

import (
	"bytes"
	"cmp"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicPartitionID names a partition by topic id, as KIP-848 requests do:
// a topic deleted and created again under the same name is another topic.
type topicPartitionID struct {
	topic     [16]byte
	partition int32
}

func compareTopicPartitionIDs(a, b topicPartitionID) int {
	if c := bytes.Compare(a.topic[:], b.topic[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.partition, b.partition)
}

// partitionSet is a set of partitions of a consumer group member.
type partitionSet map[topicPartitionID]struct{}

func (s partitionSet) has(p topicPartitionID) bool {
	_, ok := s[p]
	return ok
}

func (s partitionSet) clone() partitionSet {
	if s == nil {
		return partitionSet{}
	}
	return maps.Clone(s)
}

// minus returns the partitions of s not in other.
func (s partitionSet) minus(other partitionSet) partitionSet {
	out := partitionSet{}
	for p := range s {
		if !other.has(p) {
			out[p] = struct{}{}
		}
	}
	return out
}

func (s partitionSet) intersects(other partitionSet) bool {
	for p := range s {
		if other.has(p) {
			return true
		}
	}
	return false
}

func (s partitionSet) equal(other partitionSet) bool {
	return len(s) == len(other) && len(s.minus(other)) == 0
}

func (s partitionSet) sorted() []topicPartitionID {
	out := slices.Collect(maps.Keys(s))
	slices.SortFunc(out, compareTopicPartitionIDs)
	return out
}

// byTopic groups the set by topic id, topics and partitions in order.
func (s partitionSet) byTopic() []TopicPartitionsRecord {
	var out []TopicPartitionsRecord
	for _, p := range s.sorted() {
		if n := len(out); n > 0 && out[n-1].TopicID == p.topic {
			out[n-1].Partitions = append(out[n-1].Partitions, p.partition)
			continue
		}
		out = append(out, TopicPartitionsRecord{TopicID: p.topic, Partitions: []int32{p.partition}})
	}
	return out
}

func partitionSetOf(records []TopicPartitionsRecord) partitionSet {
	out := partitionSet{}
	for _, t := range records {
		for _, p := range t.Partitions {
			if p >= 0 {
				out[topicPartitionID{t.TopicID, p}] = struct{}{}
			}
		}
	}
	return out
}

// ownedPartitions reads the partitions a heartbeat says the member owns; nil
// when the request does not say (a keepalive). Negative partitions, which no
// topic has, are dropped.
func ownedPartitions(topics []kmsg.ConsumerGroupHeartbeatRequestTopic) partitionSet {
	if topics == nil {
		return nil
	}
	out := partitionSet{}
	for _, t := range topics {
		for _, p := range t.Partitions {
			if p >= 0 {
				out[topicPartitionID{t.TopicID, p}] = struct{}{}
			}
		}
	}
	return out
}
