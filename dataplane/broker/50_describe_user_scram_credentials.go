package broker

// DescribeUserScramCredentials: v0 (KIP-554).
//
// The mechanisms and iterations (never salts or keys) of the SCRAM
// credentials of the connection's cluster: of the users named, or of every
// user with a credential when none is named. A user named twice is
// DUPLICATE_RESOURCE, a user without credentials RESOURCE_NOT_FOUND. Without
// a ScramStore the request is UNSUPPORTED_SASL_MECHANISM. It needs
// DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED).

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiDescribeUserScramCredentials = 50

func init() {
	register(api{key: apiDescribeUserScramCredentials, minVersion: 0, maxVersion: 0, handle: (*Broker).handleDescribeUserScramCredentials})
}

func (b *Broker) handleDescribeUserScramCredentials(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !b.clusterAllowed(ctx, r, acl.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	if b.cfg.Scram == nil {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		resp.ErrorMessage = errMessage("SCRAM is not enabled on this broker")
		return resp, nil
	}
	var users []string // nil: everyone
	count := map[string]int{}
	for _, u := range req.Users {
		if count[u.Name]++; count[u.Name] == 1 {
			users = append(users, u.Name)
		}
	}
	if len(req.Users) > 0 && users == nil {
		users = []string{}
	}
	creds, err := b.cfg.Scram.ScramCredentials(ctx, r.cluster(), users)
	if err != nil {
		r.conn.log.Warn("describe scram credentials failed", "cluster", r.cluster(), "err", err)
		resp.ErrorCode = kerr.UnknownServerError.Code
		resp.ErrorMessage = errMessage("the credential store failed")
		return resp, nil
	}
	if len(req.Users) == 0 {
		users = sortedKeys(creds)
	}
	for _, name := range users {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = name
		switch found := creds[name]; {
		case count[name] > 1:
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = errMessage("Cannot describe SCRAM credentials for the same user twice in a single request")
		case len(found) == 0:
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = errMessage(fmt.Sprintf("Attempt to describe a user credential that does not exist: %s", name))
		default:
			for _, c := range found {
				info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				info.Mechanism, info.Iterations = int8(c.Mechanism), int32(c.Iterations)
				res.CredentialInfos = append(res.CredentialInfos, info)
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
