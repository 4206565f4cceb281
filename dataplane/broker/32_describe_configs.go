package broker

// DescribeConfigs: v0-4.
//
// Topics: every known topic config with its value, DYNAMIC_TOPIC_CONFIG when
// set on the topic and DEFAULT_CONFIG otherwise (v0: is_default), limited to
// the names asked for when the request lists some. Synonyms (v1+, when
// asked) list the topic value, then the broker default under its broker
// name; config types and documentation (v3+) are given, documentation only
// when asked. Brokers (this node id, or "" for cluster-wide defaults): the
// broker's configs, all read-only. Unknown topics are
// UNKNOWN_TOPIC_OR_PARTITION, other resource types INVALID_REQUEST. A topic
// needs DESCRIBE_CONFIGS on it (TOPIC_AUTHORIZATION_FAILED, whether it
// exists or not), a broker DESCRIBE_CONFIGS on the cluster
// (CLUSTER_AUTHORIZATION_FAILED).

import (
	"context"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiDescribeConfigs = 32

func init() {
	register(api{key: apiDescribeConfigs, minVersion: 0, maxVersion: 4, handle: (*Broker).handleDescribeConfigs})
}

func (b *Broker) handleDescribeConfigs(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	resp.Resources = make([]kmsg.DescribeConfigsResponseResource, len(req.Resources))
	for i, rr := range req.Resources {
		sr := &resp.Resources[i]
		*sr = kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		wanted := func(name string) bool { return rr.ConfigNames == nil || slices.Contains(rr.ConfigNames, name) }
		var ce *codeError
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if !b.allowed(ctx, r, acl.ResourceTopic, rr.ResourceName, acl.OpDescribeConfigs) {
				ce = errorf(kerr.TopicAuthorizationFailed.Code, "")
				break
			}
			ce = b.describeTopicConfigs(ctx, r, req, rr.ResourceName, wanted, sr)
		case kmsg.ConfigResourceTypeBroker:
			if !b.clusterAllowed(ctx, r, acl.OpDescribeConfigs) {
				ce = errorf(kerr.ClusterAuthorizationFailed.Code, "")
				break
			}
			ce = b.describeBrokerConfigs(req, rr.ResourceName, wanted, sr)
		default:
			ce = errorf(kerr.InvalidRequest.Code, "describing %s configs is not supported", rr.ResourceType)
		}
		if ce != nil {
			sr.ErrorCode, sr.ErrorMessage, sr.Configs = ce.code, errMessage(ce.msg), nil
		}
	}
	return resp, nil
}

func (b *Broker) describeTopicConfigs(ctx context.Context, r *request, req *kmsg.DescribeConfigsRequest, topic string, wanted func(string) bool, sr *kmsg.DescribeConfigsResponseResource) *codeError {
	if err := validateTopicName(topic); err != nil {
		return errorf(kerr.InvalidTopicException.Code, "%v", err)
	}
	t, err := b.cfg.Catalog.Topic(ctx, r.cluster(), topic)
	if err != nil {
		return errorf(b.storageError(ctx, r, "describe configs: topic", err), "topic %s: %v", topic, err)
	}
	for _, e := range topicConfigEntries(t.Configs) {
		if !wanted(e.name) {
			continue
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name, c.Value, c.Source = e.name, kmsg.StringPtr(e.value), e.source
		c.IsDefault = e.source == kmsg.ConfigSourceDefaultConfig
		c.ConfigType = kmsg.ConfigTypeString
		if e.spec != nil {
			c.ConfigType = e.spec.typ
			if req.IncludeDocumentation {
				c.Documentation = kmsg.StringPtr(e.spec.doc)
			}
		}
		if req.IncludeSynonyms {
			if e.source == kmsg.ConfigSourceDynamicTopicConfig {
				c.ConfigSynonyms = append(c.ConfigSynonyms, configSynonym(e.name, e.value, e.source))
			}
			if e.spec != nil && e.spec.brokerSynonym != "" {
				c.ConfigSynonyms = append(c.ConfigSynonyms, configSynonym(e.spec.brokerSynonym, e.spec.defaultValue, kmsg.ConfigSourceDefaultConfig))
			}
		}
		sr.Configs = append(sr.Configs, c)
	}
	return nil
}

func (b *Broker) describeBrokerConfigs(req *kmsg.DescribeConfigsRequest, name string, wanted func(string) bool, sr *kmsg.DescribeConfigsResponseResource) *codeError {
	if name != "" && name != strconv.Itoa(int(b.cfg.NodeID)) {
		return errorf(kerr.InvalidRequest.Code, "unexpected broker id, expected %d or empty string, but received %s", b.cfg.NodeID, name)
	}
	for _, bc := range b.brokerConfigs() {
		if !wanted(bc.name) {
			continue
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name, c.Value, c.Source, c.ConfigType = bc.name, kmsg.StringPtr(bc.value), bc.source, bc.typ
		c.ReadOnly = true
		c.IsDefault = bc.source == kmsg.ConfigSourceDefaultConfig
		if req.IncludeSynonyms {
			c.ConfigSynonyms = append(c.ConfigSynonyms, configSynonym(bc.name, bc.value, bc.source))
		}
		sr.Configs = append(sr.Configs, c)
	}
	return nil
}

func configSynonym(name, value string, source kmsg.ConfigSource) kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
	s.Name, s.Value, s.Source = name, kmsg.StringPtr(value), source
	return s
}
