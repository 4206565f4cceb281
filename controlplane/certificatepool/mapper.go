package certificatepool

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(p resource.CertificatePool) *pb.CertificatePool {
	return &pb.CertificatePool{
		Id:                   p.ID,
		DisplayName:          p.DisplayName,
		CreateTime:           rpc.Timestamp(p.CreateTime),
		UpdateTime:           rpc.Timestamp(p.UpdateTime),
		Etag:                 p.Etag,
		Description:          p.Description,
		CertificateAuthority: p.CAID,
		ExternalIdentifier:   p.ExternalIdentifier,
		Filter:               p.Filter,
		Cluster:              p.ClusterID,
		Principal:            resource.Principal(p.ID),
	}
}
