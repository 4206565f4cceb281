package identityprovider

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(idp resource.IdentityProvider) *pb.IdentityProvider {
	return &pb.IdentityProvider{
		Id:          idp.ID,
		DisplayName: idp.DisplayName,
		CreateTime:  rpc.Timestamp(idp.CreateTime),
		UpdateTime:  rpc.Timestamp(idp.UpdateTime),
		Etag:        idp.Etag,
		Description: idp.Description,
		Issuer:      idp.Issuer,
		JwksUri:     idp.JWKSURI,
	}
}
