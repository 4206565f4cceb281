package app

import (
	"context"

	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/broker"
)

// policySource gives a principal's compiled role bindings in a cluster and
// the cluster's Kafka CRN; the control plane is one.
type policySource interface {
	KafkaPolicy(ctx context.Context, clusterID, principal string) (*authz.Policy, authz.CRN, error)
}

// kafkaPolicies lets brokers authorize with the control plane's role
// bindings, decided by authz as the control plane decides.
type kafkaPolicies struct{ source policySource }

var _ broker.Policies = kafkaPolicies{}

func (k kafkaPolicies) KafkaPolicy(ctx context.Context, cluster, principal string) (broker.Policy, error) {
	p, kafkaCRN, err := k.source.KafkaPolicy(ctx, cluster, principal)
	if err != nil {
		return nil, err
	}
	return rolePolicy{policy: p, kafka: kafkaCRN}, nil
}

// rolePolicy is one principal's role bindings in one cluster.
type rolePolicy struct {
	policy *authz.Policy
	kafka  authz.CRN
}

func (r rolePolicy) Super() bool { return r.policy.AdministersKafka(r.kafka) }

func (r rolePolicy) Allows(t acl.ResourceType, name string, op acl.Operation) bool {
	return r.policy.AllowsKafka(r.kafka, t.String(), name, op.String())
}
