package serviceaccount

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(sa resource.ServiceAccount) *pb.ServiceAccount {
	return &pb.ServiceAccount{
		Id:          sa.ID,
		DisplayName: sa.DisplayName,
		CreateTime:  rpc.Timestamp(sa.CreateTime),
		UpdateTime:  rpc.Timestamp(sa.UpdateTime),
		Etag:        sa.Etag,
		Description: sa.Description,
		Principal:   resource.Principal(sa.ID),
	}
}
