package environment

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(e resource.Environment) *pb.Environment {
	return &pb.Environment{
		Id:          e.ID,
		DisplayName: e.DisplayName,
		CreateTime:  rpc.Timestamp(e.CreateTime),
		UpdateTime:  rpc.Timestamp(e.UpdateTime),
		Etag:        e.Etag,
		Description: e.Description,
	}
}

// fromProto takes the fields a user may set.
func fromProto(e *pb.Environment) resource.Environment {
	return resource.Environment{DisplayName: e.GetDisplayName(), Description: e.GetDescription()}
}
