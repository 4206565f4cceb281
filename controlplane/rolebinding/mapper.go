package rolebinding

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(rb resource.RoleBinding) *pb.RoleBinding {
	return &pb.RoleBinding{
		Id:         rb.ID,
		CreateTime: rpc.Timestamp(rb.CreateTime),
		UpdateTime: rpc.Timestamp(rb.UpdateTime),
		Etag:       rb.Etag,
		Principal:  rb.Principal,
		RoleName:   rb.RoleName,
		CrnPattern: rb.CRNPattern,
	}
}
