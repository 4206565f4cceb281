package broker

// ConsumerGroupHeartbeat: v0-1 (KIP-848; regex subscriptions and member
// ids chosen by the client from v1).
//
// Handed to the group coordinator with the connection's client id and host
// and the cluster's topics, against which the coordinator resolves
// subscriptions and assigns partitions. Needs READ on the group
// (GROUP_AUTHORIZATION_FAILED) and DESCRIBE on every topic subscribed to by
// name (TOPIC_AUTHORIZATION_FAILED, naming them), as Kafka checks. A regex
// subscription is resolved against all of the cluster's topics, whatever
// the member may describe; reading them still needs READ (Fetch).

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiConsumerGroupHeartbeat = 68

func init() {
	register(api{key: apiConsumerGroupHeartbeat, minVersion: 0, maxVersion: 1, lane: laneGroup, handle: (*Broker).handleConsumerGroupHeartbeat})
}

func (b *Broker) handleConsumerGroupHeartbeat(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.ConsumerGroupHeartbeatRequest)
	refuse := func(code int16, msg string) (kmsg.Response, error) {
		resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.ErrorCode = code
		if msg != "" {
			resp.ErrorMessage = kmsg.StringPtr(msg)
		}
		return resp, nil
	}
	if !b.allowed(ctx, r, acl.ResourceGroup, req.Group, acl.OpRead) {
		return refuse(kerr.GroupAuthorizationFailed.Code, "")
	}
	var denied []string
	for _, topic := range req.SubscribedTopicNames {
		if !b.allowed(ctx, r, acl.ResourceTopic, topic, acl.OpDescribe) {
			denied = append(denied, topic)
		}
	}
	if len(denied) > 0 {
		slices.Sort(denied)
		return refuse(kerr.TopicAuthorizationFailed.Code, "Unauthorized topics: "+strings.Join(slices.Compact(denied), ", "))
	}
	topics := catalogTopics{catalog: b.cfg.Catalog}
	return b.cfg.Groups.ConsumerGroupHeartbeat(ctx, r.cluster(), clientInfo(r), topics, req), nil
}

// catalogTopics lists a cluster's topics for the group coordinator.
type catalogTopics struct{ catalog storage.Catalog }

func (t catalogTopics) ListTopics(ctx context.Context, cluster string) ([]groups.TopicInfo, error) {
	all, err := t.catalog.Topics(ctx, cluster)
	if err != nil {
		return nil, err
	}
	out := make([]groups.TopicInfo, 0, len(all))
	for _, topic := range all {
		out = append(out, groups.TopicInfo{Name: topic.Name, ID: topic.ID, Partitions: topic.Partitions})
	}
	return out, nil
}
