package broker

// CreateTopics: v0-7.
//
// Kafka's rules: legal names (INVALID_TOPIC_EXCEPTION, also for a name that
// collides with an existing one when '.' and '_' are confused), partitions
// >= 1 or -1 for the default (INVALID_PARTITIONS), replication factor -1 or
// 1..3 (INVALID_REPLICATION_FACTOR; data is on object storage whatever the
// factor), no explicit replica assignment (INVALID_REQUEST: the broker
// places partitions), known topic configs with valid values (INVALID_CONFIG,
// naming the key), the same name twice in one request is INVALID_REQUEST for
// each, and an existing topic TOPIC_ALREADY_EXISTS. validate_only checks
// without creating. From v5 the response carries the partition count,
// replication factor (1: one replica is all there is) and every config with
// its source; from v7 the topic id.
//
// Limits (limits.go, quotas.go): partitions beyond the cluster's
// max_partitions are POLICY_VIOLATION, naming the limit and the counts;
// over the principal's controller_mutation_rate, v6+ requests get
// THROTTLING_QUOTA_EXCEEDED for the topics beyond, older ones a throttle
// (KIP-599).
//
// Each topic needs CREATE on the cluster or on the topic
// (TOPIC_AUTHORIZATION_FAILED, before any other check but duplicates); the
// configs of a created topic are answered only with DESCRIBE_CONFIGS on it
// (else the config error is TOPIC_AUTHORIZATION_FAILED), as Kafka does.

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiCreateTopics = 19

func init() {
	register(api{key: apiCreateTopics, minVersion: 0, maxVersion: 7, lane: laneAdmin, handle: (*Broker).handleCreateTopics})
}

// topicSpec is a topic to create, as a request describes it.
type topicSpec struct {
	name              string
	partitions        int32 // -1: the default
	replicationFactor int16 // -1: the default
	assigned          bool  // the request assigned replicas itself
	configs           map[string]*string
}

func (b *Broker) handleCreateTopics(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	count := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	resp.Topics = make([]kmsg.CreateTopicsResponseTopic, len(req.Topics))
	clusterCreate := b.clusterAllowed(ctx, r, acl.OpCreate)
	mutations := b.mutationQuota(ctx, r, req.Version >= 6)
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		if count[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = errMessage("the request names topic " + rt.Topic + " more than once")
			continue
		}
		if !clusterCreate && !b.allowed(ctx, r, acl.ResourceTopic, rt.Topic, acl.OpCreate) {
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			continue
		}
		spec := topicSpec{
			name:              rt.Topic,
			partitions:        rt.NumPartitions,
			replicationFactor: rt.ReplicationFactor,
			assigned:          len(rt.ReplicaAssignment) > 0,
			configs:           make(map[string]*string, len(rt.Configs)),
		}
		for _, c := range rt.Configs {
			spec.configs[c.Name] = c.Value
		}
		if ce := mutations.exceeded(); ce != nil && !req.ValidateOnly {
			st.ErrorCode, st.ErrorMessage = ce.code, errMessage(ce.msg)
			continue
		}
		t, ce := b.createTopic(ctx, r, spec, req.ValidateOnly)
		if ce != nil {
			st.ErrorCode, st.ErrorMessage = ce.code, errMessage(ce.msg)
			continue
		}
		if !req.ValidateOnly {
			mutations.record(t.Partitions)
		}
		st.TopicID = t.ID
		st.NumPartitions, st.ReplicationFactor = t.Partitions, 1
		if !b.allowed(ctx, r, acl.ResourceTopic, rt.Topic, acl.OpDescribeConfigs) {
			st.ConfigErrorCode = kerr.TopicAuthorizationFailed.Code
			continue
		}
		for _, e := range topicConfigEntries(t.Configs) {
			c := kmsg.NewCreateTopicsResponseTopicConfig()
			c.Name, c.Value, c.Source = e.name, kmsg.StringPtr(e.value), int8(e.source)
			st.Configs = append(st.Configs, c)
		}
	}
	return resp, nil
}

// createTopic checks spec against every rule and, unless validateOnly,
// creates the topic in the request's cluster. With validateOnly the returned
// topic has no id.
func (b *Broker) createTopic(ctx context.Context, r *request, spec topicSpec, validateOnly bool) (storage.Topic, *codeError) {
	if err := validateTopicName(spec.name); err != nil {
		return storage.Topic{}, errorf(kerr.InvalidTopicException.Code, "%v", err)
	}
	partitions := spec.partitions
	if partitions == -1 {
		partitions = b.cfg.DefaultPartitions
	}
	if code, err := checkPartitionCount(partitions); err != nil {
		return storage.Topic{}, errorf(code, "%v", err)
	}
	if code, err := checkReplicationFactor(spec.replicationFactor); err != nil {
		return storage.Topic{}, errorf(code, "%v", err)
	}
	if spec.assigned {
		return storage.Topic{}, errorf(kerr.InvalidRequest.Code, "replica assignments are not supported: the broker places partitions itself")
	}
	configs := make(map[string]string, len(spec.configs))
	for _, name := range sortedKeys(spec.configs) {
		value := spec.configs[name]
		if err := validateTopicConfig(name, value); err != nil {
			return storage.Topic{}, errorf(kerr.InvalidConfig.Code, "%v", err)
		}
		configs[name] = *value
	}

	existing, err := b.cfg.Catalog.Topics(ctx, r.cluster())
	if err != nil {
		return storage.Topic{}, errorf(b.storageError(ctx, r, "create topic: list", err), "could not check existing topics")
	}
	var clusterPartitions int64
	for _, t := range existing {
		switch {
		case t.Name == spec.name:
			return storage.Topic{}, errorf(kerr.TopicAlreadyExists.Code, "topic '%s' already exists", spec.name)
		case collisionKey(t.Name) == collisionKey(spec.name):
			return storage.Topic{}, errorf(kerr.InvalidTopicException.Code, "topic '%s' collides with existing topic: %s", spec.name, t.Name)
		}
		clusterPartitions += int64(t.Partitions)
	}
	if ce := b.checkPartitionLimit(r.cluster(), clusterPartitions, int64(partitions)); ce != nil {
		return storage.Topic{}, ce
	}
	if validateOnly {
		return storage.Topic{Cluster: r.cluster(), Name: spec.name, Partitions: partitions, Configs: configs}, nil
	}
	t, err := b.cfg.Catalog.CreateTopic(ctx, r.cluster(), spec.name, partitions, maps.Clone(configs))
	switch {
	case errors.Is(err, storage.ErrTopicExists):
		return storage.Topic{}, errorf(kerr.TopicAlreadyExists.Code, "topic '%s' already exists", spec.name)
	case err != nil:
		return storage.Topic{}, errorf(b.storageError(ctx, r, "create topic", err), "could not create topic")
	}
	b.log.Info("topic created", "cluster", r.cluster(), "topic", t.Name, "partitions", t.Partitions)
	return t, nil
}

// sortedKeys returns m's keys in order, so checks report the same first
// problem every time.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
