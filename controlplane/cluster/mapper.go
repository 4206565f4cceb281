package cluster

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(c resource.Cluster) *pb.Cluster {
	return &pb.Cluster{
		Id:          c.ID,
		DisplayName: c.DisplayName,
		CreateTime:  rpc.Timestamp(c.CreateTime),
		UpdateTime:  rpc.Timestamp(c.UpdateTime),
		Etag:        c.Etag,
		Environment: c.EnvironmentID,
		Spec: &pb.ClusterSpec{
			Type:    c.Type,
			Cloud:   c.Cloud,
			Region:  c.Region,
			Plan:    c.Plan,
			Limits:  limitsToProto(c.Limits),
			Brokers: c.Brokers,
		},
		Status: &pb.ClusterStatus{
			Phase:            c.Phase,
			BootstrapServers: c.BootstrapServers,
			RestEndpoint:     c.RestEndpoint,
			OperationId:      c.OperationID,
			Message:          c.Message,
			Brokers:          c.ObservedBrokers,
		},
	}
}

func limitsToProto(l resource.Limits) *pb.ClusterLimits {
	return &pb.ClusterLimits{
		IngressByteRate: l.IngressByteRate,
		EgressByteRate:  l.EgressByteRate,
		MaxPartitions:   l.MaxPartitions,
		MaxStorageBytes: l.MaxStorageBytes,
		MaxConnections:  l.MaxConnections,
		MaxMessageBytes: l.MaxMessageBytes,
		MaxRequestRate:  l.MaxRequestRate,

		MaxConnectionAttemptRate: l.MaxConnectionAttemptRate,
	}
}

func limitsFromProto(l *pb.ClusterLimits) resource.Limits {
	return resource.Limits{
		IngressByteRate: l.GetIngressByteRate(),
		EgressByteRate:  l.GetEgressByteRate(),
		MaxPartitions:   l.GetMaxPartitions(),
		MaxStorageBytes: l.GetMaxStorageBytes(),
		MaxConnections:  l.GetMaxConnections(),
		MaxMessageBytes: l.GetMaxMessageBytes(),
		MaxRequestRate:  l.GetMaxRequestRate(),

		MaxConnectionAttemptRate: l.GetMaxConnectionAttemptRate(),
	}
}

// fromProto takes the fields a user may set, with defaults for the empty ones.
func fromProto(c *pb.Cluster) resource.Cluster {
	spec := c.GetSpec()
	out := resource.Cluster{
		DisplayName: c.GetDisplayName(),
		Type:        orDefault(spec.GetType(), resource.ClusterServerless),
		Cloud:       orDefault(spec.GetCloud(), "LOCAL"),
		Region:      orDefault(spec.GetRegion(), "local"),
		Plan:        orDefault(spec.GetPlan(), PlanBasic),
		Limits:      limitsFromProto(spec.GetLimits()),
		Brokers:     spec.GetBrokers(),
	}
	return out
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
