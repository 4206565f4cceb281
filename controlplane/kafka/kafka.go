// Package kafka is the control plane's door to a cluster's brokers: topics,
// ACLs and client quotas live in the dataplane, and the control plane reads
// and writes them with the Kafka Admin API (franz-go's kadm), so there is
// one source of truth. This package resolves a running cluster to an admin
// client and maps Kafka's errors to the API's catalogue.
package kafka

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

var tracer = otel.Tracer("github.com/affluent-io/affluent/controlplane/kafka")

// Admin gives admin clients of a cluster's brokers, authenticated with the
// control plane's internal credential. It owns the clients (and closes them).
type Admin interface {
	For(ctx context.Context, clusterID string) (*kadm.Client, error)
}

type clusterReader interface {
	Get(ctx context.Context, org, id string) (resource.Cluster, error)
}

// Clusters resolves clusters to admin clients.
type Clusters struct {
	clusters clusterReader
	admin    Admin
}

// NewClusters resolves the clusters of store with admin.
func NewClusters(clusters clusterReader, admin Admin) *Clusters {
	return &Clusters{clusters: clusters, admin: admin}
}

// Open returns the cluster env/id of org, which must be RUNNING, and an
// admin client of its brokers.
func (c *Clusters) Open(ctx context.Context, org, env, id string) (resource.Cluster, *kadm.Client, error) {
	cl, err := c.clusters.Get(ctx, org, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && cl.EnvironmentID != env {
		return cl, nil, apierr.NotFoundf("cluster", id)
	}
	if err != nil {
		return cl, nil, err
	}
	if cl.Phase != resource.PhaseRunning {
		return cl, nil, apierr.New(apierr.FailedPrecondition, "cluster %q is %s, not RUNNING", id, cl.Phase)
	}
	if c.admin == nil {
		return cl, nil, apierr.New(apierr.ClusterUnavailable, "this control plane has no access to Kafka brokers")
	}
	// The admin calls that follow are traced as one span under the
	// caller's RPC, ending with it: Kafka requests carry no trace
	// context, so the trace ends at the brokers' door.
	_, span := tracer.Start(ctx, "kafka.admin", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("messaging.system", "kafka"), attribute.String("affluent.cluster", id)))
	context.AfterFunc(ctx, func() { span.End() })
	adm, err := c.admin.For(ctx, id)
	if err != nil {
		span.RecordError(err)
		return cl, nil, apierr.Wrap(err, apierr.ClusterUnavailable, "the brokers of cluster %q cannot be reached; retry later", id)
	}
	return cl, adm, nil
}

// Error maps an error of a Kafka admin call about what (for example
// `topic "orders"`) to the catalogue. message is the broker's error
// message, if any.
func Error(err error, message, what string) error {
	if err == nil {
		return nil
	}
	var apiErr *apierr.Error
	if errors.As(err, &apiErr) {
		return err
	}
	detail := func(fallback string) string {
		if message != "" {
			return message
		}
		return fallback
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.ResourceNotFound:
			return apierr.New(apierr.NotFound, "%s not found", what)
		case kerr.TopicAlreadyExists:
			return apierr.New(apierr.AlreadyExists, "%s already exists", what)
		case kerr.InvalidTopicException, kerr.InvalidPartitions, kerr.InvalidReplicationFactor,
			kerr.InvalidConfig, kerr.InvalidRequest, kerr.PolicyViolation, kerr.InvalidReplicaAssignment,
			kerr.UnsupportedVersion, kerr.InvalidRecord, kerr.MessageTooLarge:
			return apierr.New(apierr.InvalidArgument, "%s: %s", what, detail(ke.Description))
		case kerr.ThrottlingQuotaExceeded:
			return apierr.New(apierr.RateLimited, "%s: %s", what, detail("too many changes; retry later"))
		case kerr.TopicDeletionDisabled:
			return apierr.New(apierr.FailedPrecondition, "%s: %s", what, detail(ke.Description))
		case kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed, kerr.GroupAuthorizationFailed,
			kerr.SaslAuthenticationFailed:
			// The control plane's own credential was refused: an operator problem.
			return apierr.Wrap(err, apierr.Internal, "internal error")
		}
		if ke.Retriable {
			return apierr.Wrap(err, apierr.ClusterUnavailable, "%s: the cluster is busy (%s); retry later", what, ke.Message)
		}
		return apierr.Wrap(err, apierr.Internal, "internal error")
	}
	// Anything else failed on the way to or from the brokers.
	return apierr.Wrap(err, apierr.ClusterUnavailable, "%s: the cluster's brokers did not answer; retry later", what)
}
