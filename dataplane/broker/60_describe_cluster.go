package broker

// DescribeCluster: v0-1.
//
// The principal's cluster id, the live brokers of the cell (as Metadata
// lists them), this broker as the controller, and (when asked) the cluster operations it may perform, which
// need DESCRIBE on the cluster (0 otherwise, as Kafka answers).
// Describing controllers (endpoint type 2, v1) is UNSUPPORTED_ENDPOINT_TYPE:
// brokers are all there is.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiDescribeCluster = 60

func init() {
	register(api{key: apiDescribeCluster, minVersion: 0, maxVersion: 1, handle: (*Broker).handleDescribeCluster})
}

const endpointTypeBrokers = 1

func (b *Broker) handleDescribeCluster(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.Version >= 1 && req.EndpointType != endpointTypeBrokers {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = errMessage("only broker endpoints can be described")
		return resp, nil
	}
	resp.EndpointType = endpointTypeBrokers
	resp.ClusterID = r.cluster()
	resp.ControllerID = b.cfg.NodeID
	for _, mb := range b.listedBrokers(b.view()) {
		broker := kmsg.NewDescribeClusterResponseBroker()
		broker.NodeID = mb.NodeID
		broker.Host, broker.Port = b.endpointOf(r, mb)
		if mb.Rack != "" {
			broker.Rack = kmsg.StringPtr(mb.Rack)
		}
		resp.Brokers = append(resp.Brokers, broker)
	}
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = b.clusterAuthorizedOps(ctx, r)
	}
	return resp, nil
}
