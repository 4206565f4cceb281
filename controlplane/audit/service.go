// Package audit serves affluent.v1.AuditEventService: the organization's
// audit log, written by the access interceptor.
package audit

import (
	"context"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

type auditReader interface {
	ListAuditEvents(ctx context.Context, org string, q store.AuditQuery) ([]resource.AuditEvent, string, error)
}

// Service lists audit events.
type Service struct {
	pb.UnimplementedAuditEventServiceServer
	guard  *access.Guard
	events auditReader
}

var _ pb.AuditEventServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, events auditReader) *Service {
	return &Service{guard: guard, events: events}
}

func (s *Service) ListAuditEvents(ctx context.Context, req *pb.ListAuditEventsRequest) (*pb.ListAuditEventsResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var r validate.Report
	size := r.PageSize("page_size", req.GetPageSize())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.guard.Authorize(ctx, authz.AuditLogRead, resource.OrganizationCRN(caller.OrgID)); err != nil {
		return nil, err
	}
	q := store.AuditQuery{
		Principal: req.GetPrincipal(), Action: req.GetAction(), Outcome: req.GetOutcome(),
		PageSize: size, PageToken: req.GetPageToken(),
	}
	if req.GetStartTime() != nil {
		q.Start = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		q.End = req.GetEndTime().AsTime()
	}
	events, next, err := s.events.ListAuditEvents(ctx, caller.OrgID, q)
	if err != nil {
		return nil, rpc.StoreError(err, "audit event", "")
	}
	resp := &pb.ListAuditEventsResponse{AuditEvents: make([]*pb.AuditEvent, 0, len(events)), NextPageToken: next}
	for _, e := range events {
		resp.AuditEvents = append(resp.AuditEvents, toProto(e))
	}
	return resp, nil
}
