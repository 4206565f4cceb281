package broker

// DescribeGroups: v0-5.
//
// Handed to the group coordinator, which describes groups of the
// principal's cluster; the broker fills in authorized operations (v3+) when
// asked: everything, until ACLs exist.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiDescribeGroups = 15

func init() {
	register(api{key: apiDescribeGroups, minVersion: 0, maxVersion: 5, handle: (*Broker).handleDescribeGroups})
}

func (b *Broker) handleDescribeGroups(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DescribeGroupsRequest)
	resp := b.cfg.Groups.DescribeGroups(ctx, r.cluster(), req)
	if req.IncludeAuthorizedOperations {
		for i := range resp.Groups {
			if resp.Groups[i].ErrorCode == 0 {
				resp.Groups[i].AuthorizedOperations = groupAuthorizedOps
			}
		}
	}
	return resp, nil
}
