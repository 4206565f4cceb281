package operation

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(op resource.Operation) *pb.Operation {
	out := &pb.Operation{
		Id:         op.ID,
		Target:     op.Target,
		Verb:       op.Verb,
		Done:       op.Done,
		CreateTime: rpc.Timestamp(op.CreateTime),
		UpdateTime: rpc.Timestamp(op.UpdateTime),
	}
	if op.ErrorCode != 0 {
		out.Error = &pb.Status{Code: op.ErrorCode, Message: op.ErrorMessage}
	}
	return out
}
