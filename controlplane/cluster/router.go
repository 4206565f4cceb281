package cluster

import (
	"context"
	"fmt"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// Router sends each cluster to the provisioner of its type: SERVERLESS to
// the shared fleet's, DEDICATED to the one that runs brokers of their own
// (local processes, Kubernetes). A type without a provisioner fails its
// clusters at once.
type Router struct {
	Serverless Provisioner
	// Dedicated may be nil: this control plane then refuses DEDICATED
	// clusters.
	Dedicated Provisioner
}

var _ Provisioner = Router{}

func (r Router) pick(c resource.Cluster) (Provisioner, error) {
	p := r.Serverless
	if c.Type == resource.ClusterDedicated {
		p = r.Dedicated
	}
	if p == nil {
		return nil, fmt.Errorf("%w: this control plane runs no %s clusters", ErrPermanent, c.Type)
	}
	return p, nil
}

// Provision implements Provisioner.
func (r Router) Provision(ctx context.Context, c resource.Cluster) (string, error) {
	p, err := r.pick(c)
	if err != nil {
		return "", err
	}
	return p.Provision(ctx, c)
}

// Deprovision implements Provisioner. A cluster no provisioner ran (it
// FAILED at once) has nothing to release.
func (r Router) Deprovision(ctx context.Context, c resource.Cluster) error {
	p, err := r.pick(c)
	if err != nil {
		return nil
	}
	return p.Deprovision(ctx, c)
}
