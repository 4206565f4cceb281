package broker

// DeleteAcls: v1-3.
//
// Needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for each
// filter). Deletes, in one transaction, the ACLs of the principal's cluster
// each filter selects (the filters of DescribeAcls) and answers them per
// filter; an ACL matched by several filters is reported under the first.
// Filters with UNKNOWN values are INVALID_REQUEST. Deletions apply to the
// next request of every connection of this broker, and within
// Config.AuthzCacheTTL on other brokers.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiDeleteACLs = 31

func init() {
	register(api{key: apiDeleteACLs, minVersion: 1, maxVersion: 3, lane: laneAdmin, handle: (*Broker).handleDeleteACLs})
}

func (b *Broker) handleDeleteACLs(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewDeleteACLsResponseResult()
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

	var filters []acl.Filter
	var at []int // index in the request of each valid filter
	for i, f := range req.Filters {
		filter := acl.Filter{
			ResourceType: acl.ResourceType(f.ResourceType), ResourceName: f.ResourceName,
			PatternType: acl.PatternType(f.ResourcePatternType), Principal: f.Principal, Host: f.Host,
			Operation: acl.Operation(f.Operation), Permission: acl.Permission(f.PermissionType),
		}
		if err := filter.Validate(); err != nil {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kerr.InvalidRequest.Code, errMessage(err.Error())
			continue
		}
		filters = append(filters, filter)
		at = append(at, i)
	}
	if len(filters) == 0 {
		return resp, nil
	}
	deleted, err := b.cfg.ACLs.DeleteACLs(ctx, r.cluster(), filters)
	b.authz.aclsChanged(r.cluster())
	if err != nil {
		code := b.storageError(ctx, r, "delete acls", err)
		for _, i := range at {
			resp.Results[i].ErrorCode = code
		}
		return resp, nil
	}
	for j, i := range at {
		for _, a := range deleted[j] {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName = kmsg.ACLResourceType(a.ResourceType), a.ResourceName
			m.ResourcePatternType = kmsg.ACLResourcePatternType(a.PatternType)
			m.Principal, m.Host = a.Principal, a.Host
			m.Operation, m.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
			resp.Results[i].MatchingACLs = append(resp.Results[i].MatchingACLs, m)
			b.log.Info("acl deleted", "cluster", r.cluster(), "by", r.principal.Name, "acl", a.String())
		}
	}
	return resp, nil
}
