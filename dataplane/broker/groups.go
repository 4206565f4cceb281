package broker

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/groups"
)

// GroupCoordinator is the consumer group coordinator (classic and KIP-848
// groups) the group APIs
// hand their requests to, always with the connection's cluster.
// *groups.Coordinator implements it; responses carry the request's version.
type GroupCoordinator interface {
	JoinGroup(ctx context.Context, cluster string, client groups.ClientInfo, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse
	SyncGroup(ctx context.Context, cluster string, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse
	Heartbeat(ctx context.Context, cluster string, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse
	LeaveGroup(ctx context.Context, cluster string, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse
	OffsetCommit(ctx context.Context, cluster string, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse
	OffsetFetch(ctx context.Context, cluster string, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse
	OffsetDelete(ctx context.Context, cluster string, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse
	DescribeGroups(ctx context.Context, cluster string, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse
	ListGroups(ctx context.Context, cluster string, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse
	DeleteGroups(ctx context.Context, cluster string, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse
	ConsumerGroupHeartbeat(ctx context.Context, cluster string, client groups.ClientInfo, topics groups.TopicLister, req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse
	ConsumerGroupDescribe(ctx context.Context, cluster string, req *kmsg.ConsumerGroupDescribeRequest) *kmsg.ConsumerGroupDescribeResponse
}

var _ GroupCoordinator = (*groups.Coordinator)(nil)

// clientInfo identifies the connection of r to the coordinator, the client
// host written as Kafka does ("/127.0.0.1").
func clientInfo(r *request) groups.ClientInfo {
	host := r.conn.nc.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return groups.ClientInfo{ClientID: r.clientID, ClientHost: "/" + host}
}

// partitionCodes checks that the principal may READ the topics a group
// request names (TOPIC_AUTHORIZATION_FAILED) and that their partitions exist
// in the request's cluster, as the broker must before the coordinator sees
// them: codes[i][j] is 0 for an existing partition j of topic i, else why
// not. all reports whether every one passed.
func (b *Broker) partitionCodes(ctx context.Context, r *request, topics []string, partitions [][]int32) (codes [][]int16, all bool) {
	memo := make(map[string]topicLookup)
	codes = make([][]int16, len(topics))
	all = true
	for i, topic := range topics {
		codes[i] = make([]int16, len(partitions[i]))
		for j, p := range partitions[i] {
			_, codes[i][j] = b.authorizedPartition(ctx, r, memo, acl.OpRead, "group: topic", topic, p)
			all = all && codes[i][j] == 0
		}
	}
	return codes, all
}

// topicPartition names a partition within one request's topics.
type topicPartition struct {
	topic     string
	partition int32
}
