package apikey

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// toProto never carries the secret: only CreateApiKey sets it, once.
func toProto(k resource.APIKey) *pb.ApiKey {
	return &pb.ApiKey{
		Id:          k.ID,
		DisplayName: k.DisplayName,
		CreateTime:  rpc.Timestamp(k.CreateTime),
		UpdateTime:  rpc.Timestamp(k.UpdateTime),
		Etag:        k.Etag,
		Description: k.Description,
		Owner:       k.Owner,
		Resource:    k.Resource,
	}
}
