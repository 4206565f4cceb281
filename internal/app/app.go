// Package app assembles an Affluent process from its roles: it opens the
// stores, starts the components the configuration asks for, serves health
// and metrics over HTTP, and shuts everything down in order when its context
// ends. `affluent dev` and `affluent server` are thin layers over Run.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/affluent-io/affluent/internal/config"
)

// ShutdownTimeout bounds how long a graceful shutdown may take.
const ShutdownTimeout = 4 * time.Second

// Options are what Run needs beyond the configuration.
type Options struct {
	Config config.Config
	Logger *slog.Logger
	// Dev bootstraps a ready-to-use organization, cluster and credentials.
	Dev bool
	// Listeners, when set, are used instead of listening on the configured
	// addresses (tests pass their own).
	HTTPListener net.Listener
	// Ready, when set, is called once every component serves.
	Ready func(*Process)
}

// Process is a running Affluent process.
type Process struct {
	cfg      config.Config
	log      *slog.Logger
	registry *prometheus.Registry
	mux      *http.ServeMux
	health   *Health
	HTTPAddr string
}

// Registry is the Prometheus registry that /metrics serves.
func (p *Process) Registry() *prometheus.Registry { return p.registry }

// Run starts the process and blocks until ctx ends, then shuts down.
func Run(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	p := &Process{
		cfg:      opts.Config,
		log:      log,
		registry: prometheus.NewRegistry(),
		mux:      http.NewServeMux(),
		health:   NewHealth(),
	}
	p.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfoCollector(),
	)
	p.mountOps()

	httpLis := opts.HTTPListener
	if httpLis == nil {
		var err error
		if httpLis, err = net.Listen("tcp", p.cfg.HTTP.Addr); err != nil {
			return fmt.Errorf("listen http %s: %w", p.cfg.HTTP.Addr, err)
		}
	}
	p.HTTPAddr = httpLis.Addr().String()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)

	srv := &http.Server{Handler: p.mux, ReadHeaderTimeout: 10 * time.Second}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()

	p.health.SetReady("process", nil)
	log.Info("affluent started", "http", p.HTTPAddr, "roles", p.cfg.Roles)
	if opts.Ready != nil {
		opts.Ready(p)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		log.Error("component failed, shutting down", "err", runErr)
	}
	p.health.SetReady("process", errors.New("shutting down"))

	shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer stop()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	cancel()
	wg.Wait()
	log.Info("affluent stopped")
	return runErr
}
