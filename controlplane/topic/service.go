// Package topic serves affluent.v1.TopicService over the Kafka Admin API
// of the cluster's brokers: the dataplane is the one source of truth, so
// topics made by Kafka clients appear here and the other way round.
package topic

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/kafka"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// DefaultPartitions is the partition count of a topic created without one.
const DefaultPartitions = 6

var configKeyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,254}$`)

type clusterOpener interface {
	Open(ctx context.Context, org, env, id string) (resource.Cluster, *kadm.Client, error)
}

// Service manages topics.
type Service struct {
	pb.UnimplementedTopicServiceServer
	guard    *access.Guard
	clusters clusterOpener
}

var _ pb.TopicServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, clusters clusterOpener) *Service {
	return &Service{guard: guard, clusters: clusters}
}

func what(name string) string { return "topic " + `"` + name + `"` }

// checkConfigs validates configs; empty values are allowed only for updates
// (they reset a config).
func checkConfigs(r *validate.Report, configs map[string]string, allowEmpty bool) {
	if len(configs) > validate.MaxTopicConfigs {
		r.Add("topic.configs", "at most %d configs", validate.MaxTopicConfigs)
		return
	}
	for k, v := range configs {
		switch {
		case !configKeyRE.MatchString(k):
			r.Add("topic.configs", "%q is not a config name", k)
		case len(v) > 4096:
			r.Add("topic.configs."+k, "at most 4096 characters")
		case v == "" && !allowEmpty:
			r.Add("topic.configs."+k, "must not be empty")
		}
	}
}

func (s *Service) CreateTopic(ctx context.Context, req *pb.CreateTopicRequest) (*pb.CreateTopicResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetTopic()
	var r validate.Report
	r.ID("environment", req.GetEnvironment(), resource.PrefixEnvironment)
	r.ID("cluster", req.GetCluster(), resource.PrefixCluster)
	r.TopicName("topic.name", in.GetName())
	if in.GetPartitionsCount() < 0 {
		r.Add("topic.partitions_count", "must be positive")
	}
	checkConfigs(&r, in.GetConfigs(), false)
	r.RequestID("request_id", req.GetRequestId())
	if err := r.Err(); err != nil {
		return nil, err
	}
	env, id, name := req.GetEnvironment(), req.GetCluster(), in.GetName()
	if err := s.guard.Authorize(ctx, authz.TopicCreate, resource.TopicCRN(caller.OrgID, env, id, name)); err != nil {
		return nil, err
	}
	cl, adm, err := s.clusters.Open(ctx, caller.OrgID, env, id)
	if err != nil {
		return nil, err
	}
	partitions := in.GetPartitionsCount()
	if partitions == 0 {
		partitions = min(DefaultPartitions, cl.Limits.MaxPartitions)
	}
	if partitions > cl.Limits.MaxPartitions {
		return nil, apierr.Invalid("topic.partitions_count", "at most %d in cluster %s (plan %s)", cl.Limits.MaxPartitions, cl.ID, cl.Plan)
	}
	configs := make(map[string]*string, len(in.GetConfigs()))
	for k, v := range in.GetConfigs() {
		configs[k] = kadm.StringPtr(v)
	}
	resp, err := adm.CreateTopic(ctx, partitions, -1, configs, name)
	if err != nil {
		if req.GetRequestId() != "" && errors.Is(err, kerr.TopicAlreadyExists) {
			// Kafka keeps no request ids: a retry of a create that succeeded
			// gets the topic back if it is what was asked for.
			t, derr := s.describe(ctx, adm, cl, name)
			if derr == nil && t.GetPartitionsCount() == partitions && sameConfigs(t.GetConfigs(), in.GetConfigs()) {
				return &pb.CreateTopicResponse{Topic: t}, nil
			}
		}
		return nil, kafka.Error(err, resp.ErrMessage, what(name))
	}
	t, err := s.describe(ctx, adm, cl, name)
	if err != nil {
		return nil, err
	}
	return &pb.CreateTopicResponse{Topic: t}, nil
}

func sameConfigs(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// describe reads one topic with its explicit configs.
func (s *Service) describe(ctx context.Context, adm *kadm.Client, cl resource.Cluster, name string) (*pb.Topic, error) {
	topics, err := s.describeMany(ctx, adm, cl, []string{name})
	if err != nil {
		return nil, err
	}
	if len(topics) == 0 {
		return nil, apierr.NotFoundf("topic", name)
	}
	return topics[0], nil
}

// describeMany reads topics (in names' order), skipping those that vanished.
func (s *Service) describeMany(ctx context.Context, adm *kadm.Client, cl resource.Cluster, names []string) ([]*pb.Topic, error) {
	if len(names) == 0 {
		return nil, nil
	}
	details, err := adm.ListTopicsWithInternal(ctx, names...)
	if err != nil {
		return nil, kafka.Error(err, "", "topics of cluster "+cl.ID)
	}
	var present []string
	for _, n := range names {
		d, ok := details[n]
		if !ok || d.Err == kerr.UnknownTopicOrPartition {
			continue
		}
		if d.Err != nil {
			return nil, kafka.Error(d.Err, "", what(n))
		}
		present = append(present, n)
	}
	if len(present) == 0 {
		return nil, nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, present...)
	if err != nil {
		return nil, kafka.Error(err, "", "configs of cluster "+cl.ID)
	}
	configs := map[string]map[string]string{}
	for _, rc := range rcs {
		if rc.Err != nil {
			if rc.Err == kerr.UnknownTopicOrPartition {
				continue
			}
			return nil, kafka.Error(rc.Err, rc.ErrMessage, what(rc.Name))
		}
		configs[rc.Name] = explicitConfigs(rc.Configs)
	}
	out := make([]*pb.Topic, 0, len(present))
	for _, n := range present {
		c, ok := configs[n]
		if !ok {
			continue
		}
		out = append(out, toProto(cl, details[n], c))
	}
	return out, nil
}

func (s *Service) GetTopic(ctx context.Context, req *pb.GetTopicRequest) (*pb.GetTopicResponse, error) {
	cl, adm, err := s.open(ctx, req.GetEnvironment(), req.GetCluster(), req.GetName(), authz.TopicDescribe)
	if err != nil {
		return nil, err
	}
	t, err := s.describe(ctx, adm, cl, req.GetName())
	if err != nil {
		return nil, err
	}
	return &pb.GetTopicResponse{Topic: t}, nil
}

// open validates the topic's address, authorizes action on it and opens
// its cluster.
func (s *Service) open(ctx context.Context, env, id, name string, action authz.Action) (resource.Cluster, *kadm.Client, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return resource.Cluster{}, nil, err
	}
	var r validate.Report
	r.ID("environment", env, resource.PrefixEnvironment)
	r.ID("cluster", id, resource.PrefixCluster)
	r.TopicName("name", name)
	if err := r.Err(); err != nil {
		return resource.Cluster{}, nil, err
	}
	if err := s.guard.Authorize(ctx, action, resource.TopicCRN(caller.OrgID, env, id, name)); err != nil {
		return resource.Cluster{}, nil, err
	}
	return s.clusters.Open(ctx, caller.OrgID, env, id)
}

func (s *Service) ListTopics(ctx context.Context, req *pb.ListTopicsRequest) (*pb.ListTopicsResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var r validate.Report
	r.ID("environment", req.GetEnvironment(), resource.PrefixEnvironment)
	r.ID("cluster", req.GetCluster(), resource.PrefixCluster)
	size := r.PageSize("page_size", req.GetPageSize())
	after, err := base64.RawURLEncoding.DecodeString(req.GetPageToken())
	if err != nil {
		r.Add("page_token", "invalid or expired")
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	env, id := req.GetEnvironment(), req.GetCluster()
	if err := s.guard.Authorize(ctx, authz.KafkaClusterDescribe, resource.KafkaCRN(caller.OrgID, env, id)); err != nil {
		return nil, err
	}
	cl, adm, err := s.clusters.Open(ctx, caller.OrgID, env, id)
	if err != nil {
		return nil, err
	}
	details, err := adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, kafka.Error(err, "", "topics of cluster "+cl.ID)
	}
	var names []string
	for name, d := range details {
		if name <= string(after) || !strings.HasPrefix(name, req.GetNamePrefix()) || d.IsInternal && !req.GetIncludeInternal() {
			continue
		}
		if s.guard.Allowed(ctx, authz.TopicDescribe, resource.TopicCRN(caller.OrgID, env, id, name)) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	resp := &pb.ListTopicsResponse{Topics: []*pb.Topic{}}
	if len(names) > size {
		names = names[:size]
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(names[size-1]))
	}
	topics, err := s.describeMany(ctx, adm, cl, names)
	if err != nil {
		return nil, err
	}
	resp.Topics = append(resp.Topics, topics...)
	return resp, nil
}

var mask = rpc.Mask{
	Updatable:  []string{"partitions_count", "configs"},
	OutputOnly: []string{"name", "topic_id", "environment", "cluster", "etag", "internal"},
}

func (s *Service) UpdateTopic(ctx context.Context, req *pb.UpdateTopicRequest) (*pb.UpdateTopicResponse, error) {
	in := req.GetTopic()
	paths, err := mask.Paths(req.GetUpdateMask(), func(p string) bool {
		return p == "partitions_count" && in.GetPartitionsCount() != 0 || p == "configs" && len(in.GetConfigs()) > 0
	})
	if err != nil {
		return nil, err
	}
	var r validate.Report
	if in.GetName() != "" && in.GetName() != req.GetName() {
		r.Add("topic.name", "cannot be changed")
	}
	checkConfigs(&r, in.GetConfigs(), true)
	if err := r.Err(); err != nil {
		return nil, err
	}
	cl, adm, err := s.open(ctx, req.GetEnvironment(), req.GetCluster(), req.GetName(), authz.TopicAlter)
	if err != nil {
		return nil, err
	}
	name := req.GetName()
	current, err := s.describe(ctx, adm, cl, name)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(in.GetEtag(), current.GetEtag(), "topic", name); err != nil {
		return nil, err
	}
	for _, p := range paths {
		switch p {
		case "partitions_count":
			n := in.GetPartitionsCount()
			switch {
			case n < current.GetPartitionsCount():
				return nil, apierr.Invalid("topic.partitions_count", "can only grow (from %d)", current.GetPartitionsCount())
			case n > cl.Limits.MaxPartitions:
				return nil, apierr.Invalid("topic.partitions_count", "at most %d in cluster %s (plan %s)", cl.Limits.MaxPartitions, cl.ID, cl.Plan)
			case n > current.GetPartitionsCount():
				resps, err := adm.UpdatePartitions(ctx, int(n), name)
				if err == nil {
					resp, _ := resps.On(name, nil)
					err = kafka.Error(resp.Err, resp.ErrMessage, what(name))
				}
				if err != nil {
					return nil, kafka.Error(err, "", what(name))
				}
			}
		case "configs":
			var alters []kadm.AlterConfig
			for k, v := range in.GetConfigs() {
				if v == "" {
					alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
				} else {
					alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
				}
			}
			sort.Slice(alters, func(i, j int) bool { return alters[i].Name < alters[j].Name })
			if len(alters) == 0 {
				continue
			}
			resps, err := adm.AlterTopicConfigs(ctx, alters, name)
			if err == nil {
				resp, _ := resps.On(name, nil)
				err = kafka.Error(resp.Err, resp.ErrMessage, what(name))
			}
			if err != nil {
				return nil, kafka.Error(err, "", what(name))
			}
		}
	}
	t, err := s.describe(ctx, adm, cl, name)
	if err != nil {
		return nil, err
	}
	return &pb.UpdateTopicResponse{Topic: t}, nil
}

func (s *Service) DeleteTopic(ctx context.Context, req *pb.DeleteTopicRequest) (*pb.DeleteTopicResponse, error) {
	cl, adm, err := s.open(ctx, req.GetEnvironment(), req.GetCluster(), req.GetName(), authz.TopicDelete)
	if err != nil {
		return nil, err
	}
	name := req.GetName()
	if req.GetEtag() != "" {
		current, err := s.describe(ctx, adm, cl, name)
		if err != nil {
			return nil, err
		}
		if err := rpc.CheckEtag(req.GetEtag(), current.GetEtag(), "topic", name); err != nil {
			return nil, err
		}
	}
	resp, err := adm.DeleteTopic(ctx, name)
	if err != nil {
		return nil, kafka.Error(err, resp.ErrMessage, what(name))
	}
	return &pb.DeleteTopicResponse{}, nil
}
