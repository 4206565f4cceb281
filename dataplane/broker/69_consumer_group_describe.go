package broker

// ConsumerGroupDescribe: v0-1 (KIP-848).
//
// Handed to the group coordinator, which describes consumer groups of the
// principal's cluster; each group needs DESCRIBE (GROUP_AUTHORIZATION_FAILED,
// before anything is looked up). The broker fills in the authorized
// operations when asked.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiConsumerGroupDescribe = 69

func init() {
	register(api{key: apiConsumerGroupDescribe, minVersion: 0, maxVersion: 1, handle: (*Broker).handleConsumerGroupDescribe})
}

func (b *Broker) handleConsumerGroupDescribe(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.ConsumerGroupDescribeRequest)
	allowed := *req
	allowed.Groups = nil
	for _, g := range req.Groups {
		if b.allowed(ctx, r, acl.ResourceGroup, g, acl.OpDescribe) {
			allowed.Groups = append(allowed.Groups, g)
		}
	}
	described := map[string]kmsg.ConsumerGroupDescribeResponseGroup{}
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	if len(allowed.Groups) > 0 {
		resp = b.cfg.Groups.ConsumerGroupDescribe(ctx, r.cluster(), &allowed)
		for _, g := range resp.Groups {
			described[g.Group] = g
		}
	}
	resp.Groups = resp.Groups[:0]
	for _, name := range req.Groups {
		g, ok := described[name]
		switch {
		case !ok:
			g = kmsg.NewConsumerGroupDescribeResponseGroup()
			g.Group, g.ErrorCode = name, kerr.GroupAuthorizationFailed.Code
		case req.IncludeAuthorizedOperations && g.ErrorCode == 0:
			g.AuthorizedOperations = b.authorizedOps(ctx, r, acl.ResourceGroup, name)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp, nil
}
