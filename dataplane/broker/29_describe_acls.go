package broker

// DescribeAcls: v1-3 (v0, without pattern types, is gone from Kafka 4).
//
// Needs DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED). Answers the
// ACLs of the principal's cluster that the filter selects (Kafka's
// AclBindingFilter: ANY and null fields match all, the pattern type MATCH
// selects the ACLs that apply to the named resource), grouped by resource
// pattern. A filter with UNKNOWN values is INVALID_REQUEST; without
// authorization (no Config.ACLs) the answer is SECURITY_DISABLED.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiDescribeACLs = 29

func init() {
	register(api{key: apiDescribeACLs, minVersion: 1, maxVersion: 3, lane: laneAdmin, handle: (*Broker).handleDescribeACLs})
}

const msgSecurityDisabled = "no authorizer is configured on the broker"

func (b *Broker) handleDescribeACLs(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	filter := acl.Filter{
		ResourceType: acl.ResourceType(req.ResourceType), ResourceName: req.ResourceName,
		PatternType: acl.PatternType(req.ResourcePatternType), Principal: req.Principal, Host: req.Host,
		Operation: acl.Operation(req.Operation), Permission: acl.Permission(req.PermissionType),
	}
	switch {
	case b.authz == nil:
		resp.ErrorCode, resp.ErrorMessage = kerr.SecurityDisabled.Code, errMessage(msgSecurityDisabled)
		return resp, nil
	case !b.clusterAllowed(ctx, r, acl.OpDescribe):
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	if err := filter.Validate(); err != nil {
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, errMessage(err.Error())
		return resp, nil
	}
	all, err := b.cfg.ACLs.ACLs(ctx, r.cluster())
	if err != nil {
		resp.ErrorCode = b.storageError(ctx, r, "describe acls", err)
		return resp, nil
	}
	// The store sorts by resource pattern first, so one pass groups.
	for _, a := range all {
		if !filter.Matches(a) {
			continue
		}
		n := len(resp.Resources)
		if n == 0 || resp.Resources[n-1].ResourceType != kmsg.ACLResourceType(a.ResourceType) ||
			resp.Resources[n-1].ResourceName != a.ResourceName ||
			resp.Resources[n-1].ResourcePatternType != kmsg.ACLResourcePatternType(a.PatternType) {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName = kmsg.ACLResourceType(a.ResourceType), a.ResourceName
			res.ResourcePatternType = kmsg.ACLResourcePatternType(a.PatternType)
			resp.Resources = append(resp.Resources, res)
			n++
		}
		d := kmsg.NewDescribeACLsResponseResourceACL()
		d.Principal, d.Host = a.Principal, a.Host
		d.Operation, d.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
		resp.Resources[n-1].ACLs = append(resp.Resources[n-1].ACLs, d)
	}
	return resp, nil
}
