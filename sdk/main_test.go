package sdk_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/affluent-io/affluent/internal/app"
	"github.com/affluent-io/affluent/internal/config"
)

// The platform the examples and integration tests of this package run
// against: `affluent dev` in-process on loopback listeners, started once.
var (
	endpoint, apiKey, apiSecret string
	devCreds                    *app.DevCredentials
)

func TestMain(m *testing.M) {
	os.Exit(runWithPlatform(m))
}

func runWithPlatform(m *testing.M) int {
	dir, err := os.MkdirTemp("", "affluent-sdk-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	var cfg config.Config
	cfg.SetDefaults()
	cfg.Storage.DataDir = dir
	// No broker processes of dedicated clusters from a test binary.
	cfg.Dedicated.Provisioner = config.DedicatedNone
	listen := func() net.Listener {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		return lis
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *app.Process, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{
			Config: cfg, Dev: true,
			HTTPListener: listen(), GRPCListener: listen(), KafkaListener: listen(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(p *app.Process) { ready <- p },
		})
	}()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case p := <-ready:
		devCreds = p.Credentials
		endpoint, apiKey, apiSecret = p.GRPCAddr, devCreds.CloudAPIKey, devCreds.CloudAPISecret
	case err := <-done:
		fmt.Fprintf(os.Stderr, "affluent dev did not start: %v\n", err)
		return 1
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "affluent dev not ready after 60s")
		return 1
	}
	return m.Run()
}
