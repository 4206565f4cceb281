package user

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(u resource.User) *pb.User {
	return &pb.User{
		Id:          u.ID,
		DisplayName: u.DisplayName,
		CreateTime:  rpc.Timestamp(u.CreateTime),
		UpdateTime:  rpc.Timestamp(u.UpdateTime),
		Etag:        u.Etag,
		Email:       u.Email,
		Principal:   resource.Principal(u.ID),
	}
}
