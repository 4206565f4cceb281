package broker

// AlterConfigs: v0-2.
//
// Replaces the whole set of explicit configs of a topic with those given
// (Kafka's non-incremental semantics: what is not named returns to its
// default). Every key must be a known topic config with a valid value, else
// INVALID_CONFIG naming the key, and nothing changes; null values are
// INVALID_REQUEST. validate_only checks without changing. Broker configs are
// managed by Affluent and refused with POLICY_VIOLATION; other resource
// types are INVALID_REQUEST. A topic needs ALTER_CONFIGS on it
// (TOPIC_AUTHORIZATION_FAILED), a broker ALTER_CONFIGS on the cluster
// (CLUSTER_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiAlterConfigs = 33

func init() {
	register(api{key: apiAlterConfigs, minVersion: 0, maxVersion: 2, lane: laneAdmin, handle: (*Broker).handleAlterConfigs})
}

const msgBrokerConfigsReadOnly = "broker configs are managed by Affluent and cannot be altered"

func (b *Broker) handleAlterConfigs(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	resp.Resources = make([]kmsg.AlterConfigsResponseResource, len(req.Resources))
	for i, rr := range req.Resources {
		sr := &resp.Resources[i]
		*sr = kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		ce := b.alterConfigsOf(ctx, r, rr.ResourceType, rr.ResourceName, func() *codeError {
			return b.replaceTopicConfigs(ctx, r, rr, req.ValidateOnly)
		})
		if ce != nil {
			sr.ErrorCode, sr.ErrorMessage = ce.code, errMessage(ce.msg)
		}
	}
	return resp, nil
}

// alterConfigsOf authorizes and routes one resource of AlterConfigs or
// IncrementalAlterConfigs: topics go to alterTopic, broker configs are read
// only, other resource types are not supported.
func (b *Broker) alterConfigsOf(ctx context.Context, r *request, typ kmsg.ConfigResourceType, name string, alterTopic func() *codeError) *codeError {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if !b.allowed(ctx, r, acl.ResourceTopic, name, acl.OpAlterConfigs) {
			return errorf(kerr.TopicAuthorizationFailed.Code, "")
		}
		return alterTopic()
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		if !b.clusterAllowed(ctx, r, acl.OpAlterConfigs) {
			return errorf(kerr.ClusterAuthorizationFailed.Code, "")
		}
		return errorf(kerr.PolicyViolation.Code, msgBrokerConfigsReadOnly)
	default:
		return errorf(kerr.InvalidRequest.Code, "altering %s configs is not supported", typ)
	}
}

func (b *Broker) replaceTopicConfigs(ctx context.Context, r *request, rr kmsg.AlterConfigsRequestResource, validateOnly bool) *codeError {
	configs := make(map[string]string, len(rr.Configs))
	for _, c := range rr.Configs {
		if c.Value == nil {
			return errorf(kerr.InvalidRequest.Code, "null value not supported for topic config %s", c.Name)
		}
		if _, dup := configs[c.Name]; dup {
			return errorf(kerr.InvalidRequest.Code, "config %s is given more than once", c.Name)
		}
		if err := validateTopicConfig(c.Name, c.Value); err != nil {
			return errorf(kerr.InvalidConfig.Code, "%v", err)
		}
		configs[c.Name] = *c.Value
	}
	if _, err := b.cfg.Catalog.Topic(ctx, r.cluster(), rr.ResourceName); err != nil {
		return errorf(b.storageError(ctx, r, "alter configs: topic", err), "topic %s: %v", rr.ResourceName, err)
	}
	if validateOnly {
		return nil
	}
	if err := b.cfg.Catalog.ReplaceConfigs(ctx, r.cluster(), rr.ResourceName, configs); err != nil {
		return errorf(b.storageError(ctx, r, "alter configs", err), "could not alter configs of topic %s", rr.ResourceName)
	}
	b.log.Info("topic configs replaced", "cluster", r.cluster(), "topic", rr.ResourceName, "configs", configs)
	return nil
}
