package broker

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// Kafka's topic rules.
const (
	maxTopicNameLen = 249
	// maxPartitionsPerTopic keeps one request from asking for a topic so
	// large that describing it would exhaust memory. Per-cluster partition
	// limits are quotas, enforced elsewhere.
	maxPartitionsPerTopic = 10_000
)

// validateTopicName applies Kafka's topic name rules (Topic.validate); the
// error is the message INVALID_TOPIC_EXCEPTION carries.
func validateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("topic name is illegal, it can't be empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name cannot be \".\" or \"..\"")
	case len(name) > maxTopicNameLen:
		return fmt.Errorf("topic name is illegal, it can't be longer than %d characters, topic name: %s", maxTopicNameLen, name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !legalTopicChar(c) {
			return fmt.Errorf("topic name %q is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

func legalTopicChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// collisionKey is equal for names Kafka considers colliding: '.' and '_'
// map to the same metric name, so a topic may not differ from another only
// by them.
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// checkPartitionCount validates a requested partition count (after -1 has
// been replaced by the default).
func checkPartitionCount(n int32) (int16, error) {
	switch {
	case n < 1:
		return kerr.InvalidPartitions.Code, fmt.Errorf("number of partitions must be larger than 0, or -1 for the default")
	case n > maxPartitionsPerTopic:
		return kerr.InvalidPartitions.Code, fmt.Errorf("number of partitions %d exceeds the maximum of %d per topic", n, maxPartitionsPerTopic)
	}
	return 0, nil
}

// checkReplicationFactor accepts -1 (the default) and 1..3. Data is as
// durable as object storage whatever the factor; 3 is what Confluent Cloud
// requires, so tools written for it work.
func checkReplicationFactor(rf int16) (int16, error) {
	if rf == -1 || (rf >= 1 && rf <= 3) {
		return 0, nil
	}
	return kerr.InvalidReplicationFactor.Code, fmt.Errorf("replication factor must be -1 (the default) or between 1 and 3, got %d", rf)
}

// topicLookup memoizes a topic within one request.
type topicLookup struct {
	topic storage.Topic
	err   error
}

// lookupTopic returns the named topic of the request's cluster, asking the
// catalog once per request and name.
func (b *Broker) lookupTopic(ctx context.Context, r *request, memo map[string]topicLookup, name string) (storage.Topic, error) {
	if l, ok := memo[name]; ok {
		return l.topic, l.err
	}
	t, err := b.cfg.Catalog.Topic(ctx, r.cluster(), name)
	memo[name] = topicLookup{t, err}
	return t, err
}

// resolvePartition finds a partition of the request's cluster through memo;
// a non-zero code says why it cannot be used. op names the caller for logs.
func (b *Broker) resolvePartition(ctx context.Context, r *request, memo map[string]topicLookup, op, topic string, partition int32) (storage.TopicPartition, int16) {
	t, err := b.lookupTopic(ctx, r, memo, topic)
	switch {
	case err != nil:
		return storage.TopicPartition{}, b.storageError(ctx, r, op, err)
	case partition < 0 || partition >= t.Partitions:
		return storage.TopicPartition{}, kerr.UnknownTopicOrPartition.Code
	}
	return storage.TopicPartition{Cluster: r.cluster(), Topic: topic, Partition: partition}, 0
}
