package identitypool

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(p resource.IdentityPool) *pb.IdentityPool {
	return &pb.IdentityPool{
		Id:            p.ID,
		DisplayName:   p.DisplayName,
		CreateTime:    rpc.Timestamp(p.CreateTime),
		UpdateTime:    rpc.Timestamp(p.UpdateTime),
		Etag:          p.Etag,
		Description:   p.Description,
		Provider:      p.ProviderID,
		IdentityClaim: p.IdentityClaim,
		Filter:        p.Filter,
		Principal:     resource.Principal(p.ID),
	}
}
