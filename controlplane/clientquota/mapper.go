package clientquota

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(q resource.ClientQuota) *pb.ClientQuota {
	principals := q.Principals
	if principals == nil {
		principals = []string{}
	}
	return &pb.ClientQuota{
		Id:              q.ID,
		DisplayName:     q.DisplayName,
		CreateTime:      rpc.Timestamp(q.CreateTime),
		UpdateTime:      rpc.Timestamp(q.UpdateTime),
		Etag:            q.Etag,
		Description:     q.Description,
		Environment:     q.EnvironmentID,
		Cluster:         q.ClusterID,
		Principals:      principals,
		IngressByteRate: q.IngressByteRate,
		EgressByteRate:  q.EgressByteRate,
	}
}
