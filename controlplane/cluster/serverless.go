package cluster

import (
	"context"
	"fmt"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// DataDropper deletes everything the dataplane keeps for a cluster: topics,
// records, groups, ACLs, quotas.
type DataDropper interface {
	DropClusterData(ctx context.Context, clusterID string) error
}

// SharedProvisioner places serverless clusters on a shared broker fleet (a
// cell): a cluster is a namespace of the fleet, so provisioning is only
// handing out the fleet's bootstrap address, and deprovisioning is dropping
// the namespace's data.
type SharedProvisioner struct {
	bootstrap string
	dropper   DataDropper
}

// NewSharedProvisioner serves clusters from the fleet at bootstrap; dropper
// (may be nil) deletes a deleted cluster's data.
func NewSharedProvisioner(bootstrap string, dropper DataDropper) *SharedProvisioner {
	return &SharedProvisioner{bootstrap: bootstrap, dropper: dropper}
}

// Provision returns the fleet's bootstrap servers.
func (p *SharedProvisioner) Provision(_ context.Context, c resource.Cluster) (string, error) {
	if c.Type != resource.ClusterServerless {
		return "", fmt.Errorf("%w: this cell only runs %s clusters, not %s", ErrPermanent, resource.ClusterServerless, c.Type)
	}
	return p.bootstrap, nil
}

// Deprovision drops the cluster's data.
func (p *SharedProvisioner) Deprovision(ctx context.Context, c resource.Cluster) error {
	if p.dropper == nil {
		return nil
	}
	if err := p.dropper.DropClusterData(ctx, c.ID); err != nil {
		return fmt.Errorf("drop data of cluster %s: %w", c.ID, err)
	}
	return nil
}
