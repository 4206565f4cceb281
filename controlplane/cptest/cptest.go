// Package cptest starts a control plane for tests: over SQLite or a real
// PostgreSQL, with an in-memory Kafka (franz-go's kfake) per cluster
// standing in for the brokers, and, if asked, the REST gateway on a loopback
// HTTP server. It is for tests only.
package cptest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/controlplane"
	"github.com/affluent-io/affluent/controlplane/cluster"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/kafka"
	"github.com/affluent-io/affluent/gateway"
	"github.com/affluent-io/affluent/internal/testutil"
)

// Engines are the metadata databases every suite runs against.
var Engines = []string{"sqlite", "postgres"}

// MetadataURL returns a fresh database of engine for t.
func MetadataURL(t testing.TB, engine string) string {
	t.Helper()
	switch engine {
	case "sqlite":
		return "sqlite://" + filepath.Join(t.TempDir(), "metadata.db")
	case "postgres":
		return testutil.PostgresURL(t)
	}
	t.Fatalf("unknown engine %q", engine)
	return ""
}

// FakeKafka is a KafkaAdmin backed by one kfake cluster per Affluent
// cluster, made on first use.
type FakeKafka struct {
	mu       sync.Mutex // guards clusters
	clusters map[string]*fakeCluster
}

type fakeCluster struct {
	fake   *kfake.Cluster
	client *kgo.Client
	admin  *kadm.Client
}

// NewFakeKafka returns an empty fake; Close it after use.
func NewFakeKafka() *FakeKafka { return &FakeKafka{clusters: map[string]*fakeCluster{}} }

// For returns an admin client of the cluster's fake brokers.
func (f *FakeKafka) For(_ context.Context, clusterID string) (*kadm.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clusters[clusterID]; ok {
		return c.admin, nil
	}
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID(clusterID))
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(fake.ListenAddrs()...), kgo.RequestRetries(2))
	if err != nil {
		fake.Close()
		return nil, err
	}
	c := &fakeCluster{fake: fake, client: client, admin: kadm.NewClient(client)}
	f.clusters[clusterID] = c
	return c.admin, nil
}

// DropClusterData forgets a cluster's fake brokers (the DataDropper of
// the shared provisioner).
func (f *FakeKafka) DropClusterData(_ context.Context, clusterID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clusters[clusterID]; ok {
		c.client.Close()
		c.fake.Close()
		delete(f.clusters, clusterID)
	}
	return nil
}

// Close stops every fake cluster.
func (f *FakeKafka) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, c := range f.clusters {
		c.client.Close()
		c.fake.Close()
		delete(f.clusters, id)
	}
}

// FastHash keeps argon2id but cheap, so suites creating many keys stay fast.
var FastHash = credential.Params{Time: 1, Memory: 1024, Threads: 1}

// Env is a running control plane with its gateway and bootstrap
// credentials.
type Env struct {
	CP      *controlplane.ControlPlane
	Kafka   *FakeKafka
	Boot    controlplane.Bootstrapped
	BaseURL string // the gateway, when started
	// Logs holds everything the control plane and gateway logged.
	Logs *SyncBuffer
}

// Options tune Start.
type Options struct {
	// RateLimit and RateBurst: default generous (1000/s) so suites are not limited.
	RateLimit float64
	RateBurst int
	// NoGateway skips the HTTP server.
	NoGateway bool
	// KafkaAdmin replaces the fake brokers (for tests on a real broker).
	KafkaAdmin kafka.Admin
	// Dedicated provisions DEDICATED clusters (nil: they fail).
	Dedicated cluster.Provisioner
}

// SharedBootstrap is the bootstrap address clusters report.
const SharedBootstrap = "127.0.0.1:19092"

// Start opens a control plane on engine, runs its reconciler, bootstraps
// the dev tenant and (unless opts.NoGateway) serves the gateway; all stop
// when t ends.
func Start(t testing.TB, engine string, opts Options) *Env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.RateLimit == 0 {
		opts.RateLimit, opts.RateBurst = 1000, 1000
	}
	// The gateway's address is the token issuer: listen first.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatalf("listen: %v", err)
	}
	fk := NewFakeKafka()
	var admin kafka.Admin = fk
	if opts.KafkaAdmin != nil {
		admin = opts.KafkaAdmin
	}
	cp, err := controlplane.Open(ctx, controlplane.Options{
		MetadataURL:          MetadataURL(t, engine),
		SharedBootstrap:      SharedBootstrap,
		DataDropper:          fk,
		KafkaAdmin:           admin,
		DedicatedProvisioner: opts.Dedicated,
		RESTEndpoint:         "http://" + lis.Addr().String(),
		RateLimit:            opts.RateLimit,
		RateBurst:            opts.RateBurst,
		HashParams:           &FastHash,
		ReconcileInterval:    50 * time.Millisecond,
		Logger:               log,
	})
	if err != nil {
		cancel()
		lis.Close()
		t.Fatalf("open control plane: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cp.Run(ctx)
	}()
	env := &Env{CP: cp, Kafka: fk, Logs: logs}
	var srv *httptest.Server
	t.Cleanup(func() {
		if srv != nil {
			srv.Close()
		} else {
			_ = lis.Close()
		}
		cancel()
		<-done
		cp.Close()
		fk.Close()
	})
	boot, err := cp.Bootstrap(ctx, controlplane.BootstrapOptions{})
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	env.Boot = boot
	if !opts.NoGateway {
		gw, err := gateway.New(ctx, gateway.Options{Conn: cp.Conn(), Logger: log, Tokens: cp})
		if err != nil {
			t.Fatalf("gateway: %v", err)
		}
		srv = &httptest.Server{Listener: lis, Config: &http.Server{Handler: gw}}
		srv.Start()
		env.BaseURL = srv.URL
	}
	return env
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers (loggers).
type SyncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*SyncBuffer)(nil)
