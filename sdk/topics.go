package sdk

import (
	"context"
	"iter"

	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// TopicFilter narrows ListTopics; zero fields do not filter.
type TopicFilter struct {
	NamePrefix string
	// IncludeInternal also lists the cluster's internal topics.
	IncludeInternal bool
}

// CreateTopic creates topic.Name in cluster (lkc-…) of environment env,
// with topic.PartitionsCount partitions (0: the default, 6) and
// topic.Configs.
func (c *Client) CreateTopic(ctx context.Context, env, cluster string, topic *Topic, opts ...CallOption) (*Topic, error) {
	s := applyCall(opts)
	resp, err := c.topics.CreateTopic(ctx, &pb.CreateTopicRequest{Environment: env, Cluster: cluster, Topic: topic, RequestId: s.requestID})
	return resp.GetTopic(), err
}

// GetTopic reads a topic by name.
func (c *Client) GetTopic(ctx context.Context, env, cluster, name string) (*Topic, error) {
	resp, err := c.topics.GetTopic(ctx, &pb.GetTopicRequest{Environment: env, Cluster: cluster, Name: name})
	return resp.GetTopic(), err
}

// ListTopics iterates over the topics of a cluster.
func (c *Client) ListTopics(ctx context.Context, env, cluster string, f TopicFilter) iter.Seq2[*Topic, error] {
	return pages(func(token string) ([]*Topic, string, error) {
		resp, err := c.topics.ListTopics(ctx, &pb.ListTopicsRequest{
			Environment: env, Cluster: cluster, PageSize: c.pageSize, PageToken: token,
			NamePrefix: f.NamePrefix, IncludeInternal: f.IncludeInternal,
		})
		return resp.GetTopics(), resp.GetNextPageToken(), err
	})
}

// UpdateTopic changes topic.Name: with path "partitions_count" it grows the
// partitions, with "configs" it sets each config sent (an empty value resets
// it to the default) and leaves the others alone.
func (c *Client) UpdateTopic(ctx context.Context, env, cluster string, topic *Topic, paths ...string) (*Topic, error) {
	resp, err := c.topics.UpdateTopic(ctx, &pb.UpdateTopicRequest{Environment: env, Cluster: cluster, Name: topic.GetName(), Topic: topic, UpdateMask: updateMask(paths)})
	return resp.GetTopic(), err
}

// DeleteTopic deletes a topic and its records.
func (c *Client) DeleteTopic(ctx context.Context, env, cluster, name string, opts ...CallOption) error {
	s := applyCall(opts)
	_, err := c.topics.DeleteTopic(ctx, &pb.DeleteTopicRequest{Environment: env, Cluster: cluster, Name: name, Etag: s.etag})
	return err
}

// ACLFilter narrows ListACLs; zero fields do not filter.
type ACLFilter struct {
	ResourceType string
	ResourceName string
	// PatternType is LITERAL, PREFIXED or MATCH (every binding that applies
	// to ResourceName).
	PatternType string
	Principal   string
	Operation   string
	Permission  string
	Host        string
}

// CreateACL adds a Kafka ACL binding to a cluster.
func (c *Client) CreateACL(ctx context.Context, env, cluster string, acl *ACL, opts ...CallOption) (*ACL, error) {
	s := applyCall(opts)
	resp, err := c.acls.CreateAcl(ctx, &pb.CreateAclRequest{Environment: env, Cluster: cluster, Acl: acl, RequestId: s.requestID})
	return resp.GetAcl(), err
}

// GetACL reads an ACL binding by id.
func (c *Client) GetACL(ctx context.Context, env, cluster, id string) (*ACL, error) {
	resp, err := c.acls.GetAcl(ctx, &pb.GetAclRequest{Environment: env, Cluster: cluster, Id: id})
	return resp.GetAcl(), err
}

// ListACLs iterates over the ACL bindings of a cluster that match f.
func (c *Client) ListACLs(ctx context.Context, env, cluster string, f ACLFilter) iter.Seq2[*ACL, error] {
	return pages(func(token string) ([]*ACL, string, error) {
		resp, err := c.acls.ListAcls(ctx, &pb.ListAclsRequest{
			Environment: env, Cluster: cluster, PageSize: c.pageSize, PageToken: token,
			ResourceType: f.ResourceType, ResourceName: f.ResourceName, PatternType: f.PatternType,
			Principal: f.Principal, Operation: f.Operation, Permission: f.Permission, Host: f.Host,
		})
		return resp.GetAcls(), resp.GetNextPageToken(), err
	})
}

// DeleteACL removes an ACL binding.
func (c *Client) DeleteACL(ctx context.Context, env, cluster, id string) error {
	_, err := c.acls.DeleteAcl(ctx, &pb.DeleteAclRequest{Environment: env, Cluster: cluster, Id: id})
	return err
}

// CreateClientQuota limits the throughput of some principals of a cluster.
func (c *Client) CreateClientQuota(ctx context.Context, env, cluster string, q *ClientQuota, opts ...CallOption) (*ClientQuota, error) {
	s := applyCall(opts)
	resp, err := c.clientQuotas.CreateClientQuota(ctx, &pb.CreateClientQuotaRequest{Environment: env, Cluster: cluster, ClientQuota: q, RequestId: s.requestID})
	return resp.GetClientQuota(), err
}

// GetClientQuota reads a client quota by id (cq-…).
func (c *Client) GetClientQuota(ctx context.Context, env, cluster, id string) (*ClientQuota, error) {
	resp, err := c.clientQuotas.GetClientQuota(ctx, &pb.GetClientQuotaRequest{Environment: env, Cluster: cluster, Id: id})
	return resp.GetClientQuota(), err
}

// ListClientQuotas iterates over the client quotas of a cluster.
func (c *Client) ListClientQuotas(ctx context.Context, env, cluster string) iter.Seq2[*ClientQuota, error] {
	return pages(func(token string) ([]*ClientQuota, string, error) {
		resp, err := c.clientQuotas.ListClientQuotas(ctx, &pb.ListClientQuotasRequest{Environment: env, Cluster: cluster, PageSize: c.pageSize, PageToken: token})
		return resp.GetClientQuotas(), resp.GetNextPageToken(), err
	})
}

// UpdateClientQuota changes q.Id: the fields named by paths (display_name,
// description, principals, ingress_byte_rate, egress_byte_rate), or without
// paths every updatable field that is set.
func (c *Client) UpdateClientQuota(ctx context.Context, env, cluster string, q *ClientQuota, paths ...string) (*ClientQuota, error) {
	resp, err := c.clientQuotas.UpdateClientQuota(ctx, &pb.UpdateClientQuotaRequest{Environment: env, Cluster: cluster, Id: q.GetId(), ClientQuota: q, UpdateMask: updateMask(paths)})
	return resp.GetClientQuota(), err
}

// DeleteClientQuota removes a client quota; its principals become unlimited.
func (c *Client) DeleteClientQuota(ctx context.Context, env, cluster, id string, opts ...CallOption) error {
	s := applyCall(opts)
	_, err := c.clientQuotas.DeleteClientQuota(ctx, &pb.DeleteClientQuotaRequest{Environment: env, Cluster: cluster, Id: id, Etag: s.etag})
	return err
}
