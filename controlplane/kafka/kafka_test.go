package kafka

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		err  error
		want apierr.Code
	}{
		{kerr.UnknownTopicOrPartition, apierr.NotFound},
		{kerr.TopicAlreadyExists, apierr.AlreadyExists},
		{kerr.InvalidConfig, apierr.InvalidArgument},
		{kerr.InvalidPartitions, apierr.InvalidArgument},
		{kerr.PolicyViolation, apierr.InvalidArgument},
		{kerr.ThrottlingQuotaExceeded, apierr.RateLimited},
		{kerr.TopicAuthorizationFailed, apierr.Internal},
		{kerr.NotController, apierr.ClusterUnavailable},
		{errors.New("dial tcp 127.0.0.1:9: connection refused"), apierr.ClusterUnavailable},
	}
	for _, tt := range tests {
		got := apierr.From(Error(tt.err, "", `topic "t"`))
		if got.Code != tt.want {
			t.Errorf("Error(%v) = %s, want %s", tt.err, got.Code, tt.want)
		}
	}
	if Error(context.Canceled, "", "x") != context.Canceled {
		t.Error("cancellation not passed through")
	}
	if e := apierr.From(Error(kerr.InvalidConfig, "retention.ms must be a number", "topic")); e.Message != "topic: retention.ms must be a number" {
		t.Errorf("broker message lost: %q", e.Message)
	}
}

type clusters map[string]resource.Cluster

func (c clusters) Get(_ context.Context, _, id string) (resource.Cluster, error) {
	if v, ok := c[id]; ok {
		return v, nil
	}
	return resource.Cluster{}, store.ErrNotFound
}

func TestOpenNeedsARunningClusterOfTheEnvironment(t *testing.T) {
	cs := clusters{
		"lkc-1": {EnvironmentID: "env-1", Phase: resource.PhaseRunning},
		"lkc-2": {EnvironmentID: "env-1", Phase: resource.PhaseProvisioning},
	}
	c := NewClusters(cs, nil)
	for _, tt := range []struct {
		env, id string
		want    apierr.Code
	}{
		{"env-1", "lkc-9", apierr.NotFound},
		{"env-2", "lkc-1", apierr.NotFound},
		{"env-1", "lkc-2", apierr.FailedPrecondition},
		{"env-1", "lkc-1", apierr.ClusterUnavailable}, // no admin configured
	} {
		_, _, err := c.Open(context.Background(), "o", tt.env, tt.id)
		if got := apierr.From(err).Code; got != tt.want {
			t.Errorf("Open(%s, %s) = %s, want %s", tt.env, tt.id, got, tt.want)
		}
	}
}
