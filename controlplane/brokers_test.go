package controlplane_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/affluent-io/affluent/controlplane"
	"github.com/affluent-io/affluent/controlplane/cptest"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// TestHangingJWKSDoesNotStallSnapshots: identity providers whose JWKS
// endpoints never answer do not hold up the brokers' snapshots (a build
// waited up to 2 s on each, one after the other, and every API call
// waited for the build); a provider that answers has its keys in a
// snapshot soon after it is registered.
func TestHangingJWKSDoesNotStallSnapshots(t *testing.T) {
	env := cptest.Start(t, "sqlite", cptest.Options{NoGateway: true})
	ctx := context.Background()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(release)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
		"use": "sig", "x": base64.RawURLEncoding.EncodeToString(key.X.FillBytes(make([]byte, 32))),
		"y": base64.RawURLEncoding.EncodeToString(key.Y.FillBytes(make([]byte, 32)))}}})
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	defer good.Close()

	org := env.Boot.OrganizationID
	register := func(issuer, jwksURI string) resource.IdentityProvider {
		t.Helper()
		p, err := env.CP.Store().IdentityProviders().Create(ctx, resource.IdentityProvider{
			Meta:        resource.Meta{ID: resource.NewID("op-"), OrgID: org},
			DisplayName: "idp-" + resource.NewID(""), Issuer: issuer, JWKSURI: jwksURI}, store.RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for i := range 8 { // distinct URIs: each is fetched on its own
		register(hanging.URL, fmt.Sprintf("%s/jwks/%d", hanging.URL, i))
	}
	// Let a build see the hanging providers (it took 8 × 2 s).
	time.Sleep(100 * time.Millisecond)

	start := time.Now()
	answering := register(good.URL, good.URL+"/jwks")
	seq, err := env.CP.Store().WriteSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snapshotHas := func(want func(*bpb.IdentityProvider) bool) bool {
		snap, _ := env.CP.BrokerConfig().Latest()
		for _, p := range snap.GetIdentityProviders() {
			if p.GetId() == answering.ID && want(p) {
				return true
			}
		}
		return false
	}
	waitUntil(t, 10*time.Second, "the new provider in a snapshot", func() bool {
		return snapshotHas(func(*bpb.IdentityProvider) bool { return true })
	})
	// Snapshots name the shared database's writes they hold, which orders
	// them across replicas.
	if snap, _ := env.CP.BrokerConfig().Latest(); snap.GetStoreSequence() < seq {
		t.Errorf("snapshot holding write %d says store sequence %d", seq, snap.GetStoreSequence())
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a provider registered reached the snapshot after %v, behind 8 hanging JWKS endpoints; want under 1s", took)
	}
	waitUntil(t, 10*time.Second, "the answering provider's JWKS in a snapshot", func() bool {
		return snapshotHas(func(p *bpb.IdentityProvider) bool { return p.GetJwks() == string(jwks) })
	})
	took := time.Since(start)
	t.Logf("registered → in a snapshot with its JWKS: %v", took.Round(time.Millisecond))
	if took > 3*time.Second {
		t.Errorf("the answering provider's JWKS waited %v for the hanging ones' fetches; want under 3s", took)
	}
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShutdownEndsBrokerWatches: ServeGRPC ends brokers' watches with
// Unavailable when its context ends, so its graceful stop does not wait
// for them (it waited its 5 s limit, then cut in-flight API calls).
func TestShutdownEndsBrokerWatches(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cp, err := controlplane.Open(ctx, controlplane.Options{MetadataURL: cptest.MetadataURL(t, "sqlite"),
		BrokerSecret: "s3cret", HashParams: &cptest.FastHash, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = cp.Run(ctx) }()
	defer func() { cancel(); <-runDone }()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stopServing := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- cp.ServeGRPC(serveCtx, lis) }()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer s3cret")
	stream, err := bpb.NewBrokerConfigServiceClient(conn).WatchBrokerConfig(wctx, &bpb.WatchBrokerConfigRequest{BrokerId: "b1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first snapshot: %v", err)
	}

	start := time.Now()
	stopServing()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("ServeGRPC: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeGRPC did not return within 10s of its context ending")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("ServeGRPC took %v to stop with a broker watching; want well under its 5s limit", took)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("the watch ended with %v, want Unavailable (a broker reconnects at once)", err)
	}
}
