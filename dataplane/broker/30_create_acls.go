package broker

// CreateAcls: v1-3.
//
// Needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for each
// creation). Each ACL is checked as Kafka does (acl.Binding.Validate: a
// concrete resource type among TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID and
// DELEGATION_TOKEN, LITERAL or PREFIXED, ALLOW or DENY, a non-empty name,
// "kafka-cluster" for CLUSTER, a Type:name principal) and more strictly: an
// operation Kafka defines on the type, host "*" or an IP address. Invalid
// ones are INVALID_REQUEST with the reason; the valid ones are stored in
// the principal's cluster together, and an ACL that exists already is not
// an error. The ACLs apply to the next request of every connection of this
// broker, and within Config.AuthzCacheTTL on other brokers.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiCreateACLs = 30

func init() {
	register(api{key: apiCreateACLs, minVersion: 1, maxVersion: 3, lane: laneAdmin, handle: (*Broker).handleCreateACLs})
}

func (b *Broker) handleCreateACLs(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewCreateACLsResponseResult()
	}
	fail := func(code int16, msg string) (kmsg.Response, error) {
		for i := range resp.Results {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = code, errMessage(msg)
		}
		return resp, nil
	}
	switch {
	case b.authz == nil:
		return fail(kerr.SecurityDisabled.Code, msgSecurityDisabled)
	case !b.clusterAllowed(ctx, r, acl.OpAlter):
		return fail(kerr.ClusterAuthorizationFailed.Code, "")
	}

	var valid []acl.Binding
	var at []int // index in the request of each valid binding
	for i, c := range req.Creations {
		bnd := acl.Binding{
			ResourceType: acl.ResourceType(c.ResourceType), ResourceName: c.ResourceName,
			PatternType: acl.PatternType(c.ResourcePatternType), Principal: c.Principal, Host: c.Host,
			Operation: acl.Operation(c.Operation), Permission: acl.Permission(c.PermissionType),
		}
		if err := bnd.Validate(); err != nil {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kerr.InvalidRequest.Code, errMessage(err.Error())
			continue
		}
		valid = append(valid, bnd.Normalize())
		at = append(at, i)
	}
	if len(valid) == 0 {
		return resp, nil
	}
	err := b.cfg.ACLs.CreateACLs(ctx, r.cluster(), valid)
	b.authz.aclsChanged(r.cluster())
	if err != nil {
		code := b.storageError(ctx, r, "create acls", err)
		for _, i := range at {
			resp.Results[i].ErrorCode = code
		}
		return resp, nil
	}
	for _, bnd := range valid {
		b.log.Info("acl created", "cluster", r.cluster(), "by", r.principal.Name, "acl", bnd.String())
	}
	return resp, nil
}
