package organization

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(o resource.Organization) *pb.Organization {
	return &pb.Organization{
		Id:          o.ID,
		DisplayName: o.DisplayName,
		CreateTime:  rpc.Timestamp(o.CreateTime),
		UpdateTime:  rpc.Timestamp(o.UpdateTime),
		Etag:        o.Etag,
	}
}
