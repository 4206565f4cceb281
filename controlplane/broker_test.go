package controlplane_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/affluent-io/affluent/controlplane"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/cptest"
	"github.com/affluent-io/affluent/dataplane/broker"
	"github.com/affluent-io/affluent/internal/testutil"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// kafkaKeys authenticates the broker's SASL/PLAIN clients with the control
// plane's Kafka API keys: the wiring `affluent dev` needs.
type kafkaKeys struct{ cp *controlplane.ControlPlane }

func (k kafkaKeys) AuthenticatePlain(ctx context.Context, username, password string) (broker.Principal, error) {
	principal, cluster, err := k.cp.VerifyKafkaKey(ctx, username, password)
	if errors.Is(err, controlplane.ErrInvalidKafkaCredentials) {
		return broker.Principal{}, errors.Join(broker.ErrInvalidCredentials, err)
	}
	if err != nil {
		return broker.Principal{}, err
	}
	return broker.Principal{Name: principal, Cluster: cluster}, nil
}

// brokerAdmin reaches the real broker with a Kafka API key, set once the
// control plane has made one.
type brokerAdmin struct {
	mu          sync.Mutex // guards the fields below
	addr        string
	key, secret string
	client      *kgo.Client
}

func (b *brokerAdmin) For(_ context.Context, _ string) (*kadm.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client == nil {
		c, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.SASL(plain.Auth{User: b.key, Pass: b.secret}.AsMechanism()))
		if err != nil {
			return nil, err
		}
		b.client = c
	}
	return kadm.NewClient(b.client), nil
}

func (b *brokerAdmin) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client != nil {
		b.client.Close()
	}
}

// TestTopicsOnRealBroker runs the topic API against Affluent's own broker,
// which authenticates the control plane's Kafka API key through
// VerifyKafkaKey. (ACLs and client quotas are tested on kfake until the
// broker serves those APIs.)
func TestTopicsOnRealBroker(t *testing.T) {
	admin := &brokerAdmin{}
	defer admin.close()
	env := cptest.Start(t, "sqlite", cptest.Options{NoGateway: true, KafkaAdmin: admin})
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true, Configure: func(cfg *broker.Config) {
		cfg.Authenticator = kafkaKeys{env.CP}
	}})
	admin.mu.Lock()
	admin.addr, admin.key, admin.secret = h.Addr, env.Boot.KafkaAPIKey, env.Boot.KafkaAPISecret
	admin.mu.Unlock()

	c := serveGRPC(t, env)
	ctx := as(env.Boot.CloudAPIKey, env.Boot.CloudAPISecret)
	envID, clusterID := env.Boot.EnvironmentID, env.Boot.ClusterID
	created, err := c.topic.CreateTopic(ctx, &pb.CreateTopicRequest{Environment: envID, Cluster: clusterID,
		Topic: &pb.Topic{Name: "orders", PartitionsCount: 3, Configs: map[string]string{"retention.ms": "3600000"}}})
	if err != nil {
		t.Fatalf("create topic on the broker: %v", err)
	}
	if created.GetTopic().GetPartitionsCount() != 3 || created.GetTopic().GetConfigs()["retention.ms"] != "3600000" {
		t.Fatalf("created topic: %v", created.GetTopic())
	}
	if _, err := c.topic.CreateTopic(ctx, &pb.CreateTopicRequest{Environment: envID, Cluster: clusterID,
		Topic: &pb.Topic{Name: "orders"}}); codeOf(err) != apierr.AlreadyExists {
		t.Fatalf("duplicate topic: %v", err)
	}
	updated, err := c.topic.UpdateTopic(ctx, &pb.UpdateTopicRequest{Environment: envID, Cluster: clusterID, Name: "orders",
		Topic: &pb.Topic{PartitionsCount: 4, Configs: map[string]string{"cleanup.policy": "compact"}}})
	if err != nil {
		t.Fatalf("update topic: %v", err)
	}
	if updated.GetTopic().GetPartitionsCount() != 4 || updated.GetTopic().GetConfigs()["cleanup.policy"] != "compact" {
		t.Fatalf("updated topic: %v", updated.GetTopic())
	}
	list, err := c.topic.ListTopics(ctx, &pb.ListTopicsRequest{Environment: envID, Cluster: clusterID})
	if err != nil || len(list.GetTopics()) != 1 || list.GetTopics()[0].GetName() != "orders" {
		t.Fatalf("list topics: %v, %v", list, err)
	}
	if _, err := c.topic.DeleteTopic(ctx, &pb.DeleteTopicRequest{Environment: envID, Cluster: clusterID, Name: "orders"}); err != nil {
		t.Fatalf("delete topic: %v", err)
	}
	if _, err := c.topic.GetTopic(ctx, &pb.GetTopicRequest{Environment: envID, Cluster: clusterID, Name: "orders"}); codeOf(err) != apierr.NotFound {
		t.Fatalf("deleted topic: %v", err)
	}

	// A wrong secret does not get past the broker.
	bad, err := kgo.NewClient(kgo.SeedBrokers(h.Addr), kgo.SASL(plain.Auth{User: env.Boot.KafkaAPIKey, Pass: "wrong"}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := kadm.NewClient(bad).ListTopics(context.Background()); err == nil {
		t.Fatal("the broker accepted a wrong secret")
	}
}
