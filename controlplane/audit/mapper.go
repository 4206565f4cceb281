package audit

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(e resource.AuditEvent) *pb.AuditEvent {
	return &pb.AuditEvent{
		Id:            e.ID,
		Time:          rpc.Timestamp(e.Time),
		Principal:     e.Principal,
		Action:        e.Action,
		Resource:      e.Resource,
		Outcome:       e.Outcome,
		RequestId:     e.RequestID,
		SourceAddress: e.SourceAddress,
		Method:        e.Method,
		Message:       e.Message,
	}
}
