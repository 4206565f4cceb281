package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/affluent-io/affluent/internal/app"
	"github.com/affluent-io/affluent/internal/config"
)

// serveAffluent runs the whole platform as `affluent dev` does (control
// plane, gateway and broker on the embedded durable stores: fsync'd file://
// objects, SQLite) with its data in dataDir, and describes where it serves.
func serveAffluent(ctx context.Context, dataDir string) (stop func(), line string, err error) {
	var cfg config.Config
	cfg.SetDefaults()
	cfg.Storage.DataDir = dataDir
	cfg.Log.Level = "error"
	// Measure the API, not the per-principal rate limiter.
	cfg.HTTP.RateLimit = -1
	listeners := make([]net.Listener, 3)
	for i := range listeners {
		if listeners[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, "", err
		}
	}
	ready := make(chan *app.Process, 1)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		done <- app.Run(ctx, app.Options{
			Config: cfg, Dev: true,
			Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
			HTTPListener: listeners[0], GRPCListener: listeners[1], KafkaListener: listeners[2],
			Ready: func(p *app.Process) { ready <- p },
		})
	}()
	select {
	case p := <-ready:
		c := p.Credentials
		stop = func() { cancel(); <-done }
		return stop, fmt.Sprintf("kafka=%s user=%s pass=%s rest=%s cloud_key=%s cloud_secret=%s env=%s",
			c.BootstrapServers, c.KafkaAPIKey, c.KafkaAPISecret, c.RESTEndpoint, c.CloudAPIKey, c.CloudAPISecret, c.EnvironmentID), nil
	case err := <-done:
		cancel()
		return nil, "", fmt.Errorf("affluent stopped before serving: %w", err)
	}
}
