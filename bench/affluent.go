package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/affluent-io/affluent/dataplane/broker"
	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/storage/tiered"
)

const (
	benchCluster = "lkc-bench"
	benchUser    = "bench-key"
	benchPass    = "bench-secret"
)

// benchAuth accepts the one benchmark credential, so the SASL path clients
// take in production is part of what is measured.
type benchAuth struct{}

func (benchAuth) AuthenticatePlain(_ context.Context, user, pass string) (broker.Principal, error) {
	if user != benchUser || pass != benchPass {
		return broker.Principal{}, broker.ErrInvalidCredentials
	}
	return broker.Principal{Name: "User:" + user, Cluster: benchCluster}, nil
}

// serveAffluent starts an Affluent broker with durable storage in dataDir
// (fsync'd file:// objects, SQLite metadata): the embedded stores of
// `affluent dev`.
func serveAffluent(ctx context.Context, dataDir string) (stop func(), line string, err error) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg, err := tiered.DirConfig(dataDir)
	if err != nil {
		return nil, "", err
	}
	cfg.Logger = logger
	store, err := tiered.Open(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	coord := groups.NewCoordinator(store, groups.Options{Logger: logger, InitialRebalanceDelay: -1})
	b, err := broker.New(broker.Config{
		Logger: logger, Catalog: store, Log: store, Groups: coord, Authenticator: benchAuth{},
	})
	if err != nil {
		coord.Close()
		_ = store.Close()
		return nil, "", err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		coord.Close()
		_ = store.Close()
		return nil, "", err
	}
	served := make(chan struct{})
	serveCtx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(served)
		_ = b.Serve(serveCtx, lis)
	}()
	stop = func() {
		cancel()
		<-served
		coord.Close()
		_ = store.Close()
	}
	return stop, fmt.Sprintf("kafka=%s user=%s pass=%s", lis.Addr(), benchUser, benchPass), nil
}
