package broker

// IncrementalAlterConfigs: v0-1.
//
// Changes topic configs one operation at a time: SET, DELETE (back to the
// default), and APPEND / SUBTRACT on list configs (cleanup.policy). The
// resulting values must be valid (INVALID_CONFIG naming the key, and
// nothing changes); the same key twice in one resource, an unknown
// operation or a null value to SET is INVALID_REQUEST. validate_only checks
// without changing. Broker configs are refused with POLICY_VIOLATION, other
// resource types with INVALID_REQUEST. A topic needs ALTER_CONFIGS on it
// (TOPIC_AUTHORIZATION_FAILED), a broker ALTER_CONFIGS on the cluster
// (CLUSTER_AUTHORIZATION_FAILED).

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiIncrementalAlterConfigs = 44

func init() {
	register(api{key: apiIncrementalAlterConfigs, minVersion: 0, maxVersion: 1, lane: laneAdmin, handle: (*Broker).handleIncrementalAlterConfigs})
}

func (b *Broker) handleIncrementalAlterConfigs(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	resp.Resources = make([]kmsg.IncrementalAlterConfigsResponseResource, len(req.Resources))
	for i, rr := range req.Resources {
		sr := &resp.Resources[i]
		*sr = kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		ce := b.alterConfigsOf(ctx, r, rr.ResourceType, rr.ResourceName, func() *codeError {
			return b.alterTopicConfigs(ctx, r, rr, req.ValidateOnly)
		})
		if ce != nil {
			sr.ErrorCode, sr.ErrorMessage = ce.code, errMessage(ce.msg)
		}
	}
	return resp, nil
}

func (b *Broker) alterTopicConfigs(ctx context.Context, r *request, rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) *codeError {
	t, err := b.cfg.Catalog.Topic(ctx, r.cluster(), rr.ResourceName)
	if err != nil {
		return errorf(b.storageError(ctx, r, "incremental alter configs: topic", err), "topic %s: %v", rr.ResourceName, err)
	}
	set := make(map[string]string)
	var remove []string
	seen := make(map[string]bool, len(rr.Configs))
	for _, c := range rr.Configs {
		if seen[c.Name] {
			return errorf(kerr.InvalidRequest.Code, "config %s is given more than once", c.Name)
		}
		seen[c.Name] = true
		spec, known := topicConfigByName[c.Name]
		if !known {
			return errorf(kerr.InvalidConfig.Code, "unknown topic config name: %s", c.Name)
		}
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if err := validateTopicConfig(c.Name, c.Value); err != nil {
				return errorf(kerr.InvalidConfig.Code, "%v", err)
			}
			set[c.Name] = *c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			remove = append(remove, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if spec.typ != kmsg.ConfigTypeList {
				return errorf(kerr.InvalidConfig.Code, "config %s is not a list: %s applies to lists only", c.Name, c.Op)
			}
			if c.Value == nil {
				return errorf(kerr.InvalidRequest.Code, "null value not supported for %s of config %s", c.Op, c.Name)
			}
			items := splitList(topicConfigValue(t.Configs, c.Name))
			for _, item := range splitList(*c.Value) {
				if c.Op == kmsg.IncrementalAlterConfigOpAppend && !slices.Contains(items, item) {
					items = append(items, item)
				}
				if c.Op == kmsg.IncrementalAlterConfigOpSubtract {
					items = slices.DeleteFunc(items, func(s string) bool { return s == item })
				}
			}
			value := strings.Join(items, ",")
			if err := validateTopicConfig(c.Name, &value); err != nil {
				return errorf(kerr.InvalidConfig.Code, "%v", err)
			}
			set[c.Name] = value
		default:
			return errorf(kerr.InvalidRequest.Code, "unknown config operation %d for %s", c.Op, c.Name)
		}
	}
	if validateOnly {
		return nil
	}
	if err := b.cfg.Catalog.UpdateConfigs(ctx, r.cluster(), rr.ResourceName, set, remove); err != nil {
		return errorf(b.storageError(ctx, r, "incremental alter configs", err), "could not alter configs of topic %s", rr.ResourceName)
	}
	b.log.Info("topic configs altered", "cluster", r.cluster(), "topic", rr.ResourceName, "set", set, "removed", remove)
	return nil
}
