// Package operation serves affluent.v1.OperationService: the state of
// long-running operations such as provisioning a cluster.
package operation

import (
	"context"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

type operationReader interface {
	Get(ctx context.Context, org, id string) (resource.Operation, error)
}

// Service reads operations.
type Service struct {
	pb.UnimplementedOperationServiceServer
	guard *access.Guard
	ops   operationReader
}

var _ pb.OperationServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, ops operationReader) *Service { return &Service{guard: guard, ops: ops} }

// GetOperation is allowed to whoever may describe the operation's target.
func (s *Service) GetOperation(ctx context.Context, req *pb.GetOperationRequest) (*pb.GetOperationResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var r validate.Report
	r.ID("operation", req.GetOperation(), resource.PrefixOperation)
	if err := r.Err(); err != nil {
		return nil, err
	}
	op, err := s.ops.Get(ctx, caller.OrgID, req.GetOperation())
	if err != nil {
		// Authorize on the organization first so that a 404 is only
		// answered to callers who may see something there.
		if authErr := s.guard.Authorize(ctx, authz.OrganizationDescribe, resource.OrganizationCRN(caller.OrgID)); authErr != nil {
			return nil, authErr
		}
		return nil, rpc.StoreError(err, "operation", req.GetOperation())
	}
	target, err := authz.ParseCRN(op.TargetCRN)
	if err != nil {
		return nil, err
	}
	if err := s.guard.Authorize(ctx, authz.ClusterDescribe, target); err != nil {
		return nil, err
	}
	return &pb.GetOperationResponse{Operation: toProto(op)}, nil
}
