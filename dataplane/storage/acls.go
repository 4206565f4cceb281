package storage

import (
	"context"

	"github.com/affluent-io/affluent/dataplane/acl"
)

// ACLs holds each cluster's Kafka ACLs, the one source of truth for them.
type ACLs interface {
	// ACLs returns every binding of the cluster.
	ACLs(ctx context.Context, cluster string) ([]acl.Binding, error)
	// CreateACLs adds bindings (validated and normalized by the caller);
	// an existing binding is left as it is.
	CreateACLs(ctx context.Context, cluster string, bindings []acl.Binding) error
	// DeleteACLs deletes, in one transaction, the bindings each filter
	// matches, and returns them per filter; a binding matched by several
	// filters is reported under the first.
	DeleteACLs(ctx context.Context, cluster string, filters []acl.Filter) ([][]acl.Binding, error)
}
