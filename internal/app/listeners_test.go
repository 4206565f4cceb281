package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/app"
	"github.com/affluent-io/affluent/internal/config"
	"github.com/affluent-io/affluent/internal/testutil"
)

// TestListenersInLeases runs two broker processes sharing PostgreSQL and
// objects, each with a SASL_PLAINTEXT and a SASL_SSL listener: a client
// is told every broker's address on the listener it came through, in
// Metadata, DescribeCluster and FindCoordinator.
func TestListenersInLeases(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := testutil.StartPostgres(ctx)
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(pg.Stop)
	db, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	objects := "file://" + filepath.ToSlash(t.TempDir())

	var cfg config.Config
	cfg.SetDefaults()
	cfg.Roles = config.RoleControlPlane + "," + config.RoleGateway
	cfg.Storage.DataDir = t.TempDir()
	cfg.HTTP.Addr, cfg.GRPC.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Kafka.Addr = freeAddr(t)
	cp := runControlPlane(t, cfg, true)
	creds := cp.p.Credentials
	raw, err := os.ReadFile(filepath.Join(cfg.Storage.DataDir, app.BrokerSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(string(raw))

	specs := make([]brokerProcessSpec, 2)
	for i := range specs {
		specs[i] = brokerProcessSpec{DataDir: t.TempDir(), KafkaAddr: freeAddr(t), TLSAddr: freeAddr(t),
			ControlPlaneAddr: cp.p.GRPCAddr, MetadataURL: db, ObjectStoreURL: objects}
		startBrokerProcess(t, specs[i], secret)
	}
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(specs[0].DataDir, "tls", "ca.pem"))
	if err != nil || !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("the first broker's TLS CA: %v", err)
	}

	for _, tc := range []struct {
		name  string
		seed  string
		opts  []kgo.Opt
		addrs func(brokerProcessSpec) string
	}{
		{"SASL_PLAINTEXT", specs[0].KafkaAddr, nil, func(s brokerProcessSpec) string { return s.KafkaAddr }},
		{"SASL_SSL", specs[0].TLSAddr, []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})},
			func(s brokerProcessSpec) string { return s.TLSAddr }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := plainClient(t, tc.seed, creds.KafkaAPIKey, creds.KafkaAPISecret, tc.opts...)
			seed := cl.Broker(math.MinInt32) // the broker reached, whatever it says of others
			want := []string{tc.addrs(specs[0]), tc.addrs(specs[1])}
			slices.Sort(want)

			var got []string
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, seed)
				if err != nil {
					t.Fatalf("metadata: %v", err)
				}
				got = got[:0]
				for _, b := range resp.Brokers {
					got = append(got, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
				}
				slices.Sort(got)
				if slices.Equal(got, want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("metadata through %s names brokers at %v; want %v", tc.name, got, want)
				}
			}

			dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, seed)
			if err != nil {
				t.Fatalf("describe cluster: %v", err)
			}
			got = got[:0]
			for _, b := range dc.Brokers {
				got = append(got, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("DescribeCluster through %s names brokers at %v; want %v", tc.name, got, want)
			}

			// Groups are spread over both brokers: some have the other
			// one as coordinator, named at its address on this listener.
			seen := map[string]bool{}
			for i := range 32 {
				req := kmsg.NewPtrFindCoordinatorRequest()
				req.CoordinatorKey = "group-" + strconv.Itoa(i)
				req.CoordinatorKeys = []string{req.CoordinatorKey}
				resp, err := req.RequestWith(ctx, seed)
				if err != nil {
					t.Fatalf("find coordinator: %v", err)
				}
				host, port := resp.Host, resp.Port
				if len(resp.Coordinators) > 0 {
					c := resp.Coordinators[0]
					if c.ErrorCode != 0 {
						t.Fatalf("find coordinator of %s: error %d", req.CoordinatorKey, c.ErrorCode)
					}
					host, port = c.Host, c.Port
				}
				seen[net.JoinHostPort(host, strconv.Itoa(int(port)))] = true
			}
			for addr := range seen {
				if !slices.Contains(want, addr) {
					t.Errorf("FindCoordinator through %s names %s; want one of %v", tc.name, addr, want)
				}
			}
			if len(seen) != 2 {
				t.Errorf("32 groups' coordinators through %s at %v; want both brokers", tc.name, seen)
			}
		})
	}
}

// TestBrokerWhoseIDWasTakenStops pauses a broker process (SIGSTOP) until
// its lease lapses and another broker takes its node id, then resumes it
// (SIGCONT): it must not serve on under an id another broker holds, so it
// stops, saying why, and the cell goes on with the new holder.
func TestBrokerWhoseIDWasTakenStops(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := testutil.StartPostgres(ctx)
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(pg.Stop)
	db, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	objects := "file://" + filepath.ToSlash(t.TempDir())
	var cfg config.Config
	cfg.SetDefaults()
	cfg.Roles = config.RoleControlPlane + "," + config.RoleGateway
	cfg.Storage.DataDir = t.TempDir()
	cfg.HTTP.Addr, cfg.GRPC.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Kafka.Addr = freeAddr(t)
	cp := runControlPlane(t, cfg, true)
	creds := cp.p.Credentials
	raw, err := os.ReadFile(filepath.Join(cfg.Storage.DataDir, app.BrokerSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(string(raw))
	spec := func(id int32) brokerProcessSpec {
		return brokerProcessSpec{DataDir: t.TempDir(), KafkaAddr: freeAddr(t), ControlPlaneAddr: cp.p.GRPCAddr,
			MetadataURL: db, ObjectStoreURL: objects, BrokerID: &id}
	}
	brokers := func(addr string) []string {
		t.Helper()
		cl := plainClient(t, addr, creds.KafkaAPIKey, creds.KafkaAPISecret)
		defer cl.Close()
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl.Broker(math.MinInt32))
		if err != nil {
			t.Fatalf("metadata from %s: %v", addr, err)
		}
		var out []string
		for _, b := range resp.Brokers {
			out = append(out, strconv.Itoa(int(b.NodeID))+"@"+net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
		}
		slices.Sort(out)
		return out
	}
	waitBrokers := func(addr string, want ...string) {
		t.Helper()
		slices.Sort(want)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got := brokers(addr)
			if slices.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("brokers seen through %s: %v; want %v", addr, got, want)
			}
		}
	}

	pausedSpec, otherSpec := spec(5), spec(6)
	paused := startBrokerProcess(t, pausedSpec, secret)
	startBrokerProcess(t, otherSpec, secret)
	waitBrokers(otherSpec.KafkaAddr, "5@"+pausedSpec.KafkaAddr, "6@"+otherSpec.KafkaAddr)

	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = paused.cmd.Process.Signal(syscall.SIGCONT) })
	waitBrokers(otherSpec.KafkaAddr, "6@"+otherSpec.KafkaAddr) // the paused one's lease lapsed
	takerSpec := spec(5)
	startBrokerProcess(t, takerSpec, secret)
	waitBrokers(otherSpec.KafkaAddr, "5@"+takerSpec.KafkaAddr, "6@"+otherSpec.KafkaAddr)

	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-paused.done:
		paused.done <- err // for the cleanup's stop
		if err == nil {
			t.Errorf("the broker whose id was taken exited cleanly; want an error exit")
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the broker whose id was taken still runs 30s after resuming\n%s", paused.logs.String())
	}
	if logs := paused.logs.String(); !strings.Contains(logs, "broker lease lost") {
		t.Errorf("the stopped broker's log does not say why:\n%s", logs)
	}
	// Its leaving did not take the new holder's lease with it.
	time.Sleep(time.Second)
	waitBrokers(otherSpec.KafkaAddr, "5@"+takerSpec.KafkaAddr, "6@"+otherSpec.KafkaAddr)
}
