// Package app assembles an Affluent process from its roles: it opens the
// stores, starts the components the configuration asks for, serves health
// and metrics over HTTP, and shuts everything down in order when its context
// ends. `affluent dev` and `affluent server` are thin layers over Run.
package app

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/crypto/argon2"

	"github.com/affluent-io/affluent/controlplane"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/dataplane/broker"
	"github.com/affluent-io/affluent/gateway"
	"github.com/affluent-io/affluent/internal/config"
	"github.com/affluent-io/affluent/internal/cpwatch"
)

// ShutdownTimeout bounds how long a graceful shutdown may take.
const ShutdownTimeout = 4 * time.Second

// Options are what Run needs beyond the configuration.
type Options struct {
	Config config.Config
	Logger *slog.Logger
	// Dev bootstraps a ready-to-use organization, cluster and credentials
	// and writes them to DATA_DIR/dev-credentials.json.
	Dev bool
	// Listeners, when set, are used instead of listening on the configured
	// addresses (tests pass their own). The TLS ones are served even when
	// their address is not configured.
	HTTPListener, GRPCListener, KafkaListener net.Listener
	KafkaTLSListener, KafkaMTLSListener       net.Listener
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

	// Addresses the process serves on (empty for roles it does not run).
	HTTPAddr, GRPCAddr, KafkaAddr string
	// KafkaTLSAddr (SASL_SSL) and KafkaMTLSAddr (client certificates) are
	// empty unless configured.
	KafkaTLSAddr, KafkaMTLSAddr string
	// CACertFile is the CA of the generated Kafka TLS certificate (empty
	// when a certificate is configured).
	CACertFile string
	// Credentials is what `affluent dev` bootstrapped (Dev only).
	Credentials *DevCredentials
	// CredentialsFile is where Credentials were written (Dev only).
	CredentialsFile string
}

// Registry is the Prometheus registry that /metrics serves.
func (p *Process) Registry() *prometheus.Registry { return p.registry }

// task is a long-running part of the process; it returns when ctx ends.
type task struct {
	name string
	run  func(ctx context.Context) error
}

// Run starts the process and blocks until ctx ends, then shuts down.
func Run(ctx context.Context, opts Options) (err error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg := opts.Config
	p := &Process{
		cfg:      cfg,
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

	// Everything opened is closed in reverse order, whatever happens.
	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	stopTracing, err := setupTracing(ctx, cfg.Roles, log)
	if err != nil {
		return err
	}
	closers = append(closers, func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			log.Warn("flush traces", "err", err)
		}
	})
	listen := func(given net.Listener, addr, what string) (net.Listener, error) {
		if given != nil {
			return given, nil
		}
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s %s: %w", what, addr, err)
		}
		return lis, nil
	}

	if err := os.MkdirAll(cfg.Storage.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	runsCP, runsBroker, runsGateway := cfg.HasRole(config.RoleControlPlane), cfg.HasRole(config.RoleBroker), cfg.HasRole(config.RoleGateway)
	if runsGateway && !runsCP {
		return errors.New("the gateway role needs the controlplane role in the same process for now")
	}
	// The control plane makes the broker secret when there is none; a
	// broker without the control plane must be given it.
	secret, err := brokerSecret(cfg, runsCP, log)
	if err != nil {
		return err
	}

	httpLis, err := listen(opts.HTTPListener, cfg.HTTP.Addr, "http")
	if err != nil {
		return err
	}
	p.HTTPAddr = httpLis.Addr().String()
	var tasks []task

	var kafkaListeners []kafkaListener
	if runsBroker {
		if kafkaListeners, err = p.kafkaListeners(opts, listen); err != nil {
			return err
		}
		for _, l := range kafkaListeners {
			closers = append(closers, func() { _ = l.lis.Close() })
		}
	}

	var cp *controlplane.ControlPlane
	var grpcLis net.Listener
	// The data dropper is set once the dataplane exists; clusters are
	// only deleted after Run starts, by then it is.
	dropper := &lateDropper{}
	if runsCP {
		internal := internalCredentialOf(secret)
		// Without a broker in the process, the control plane reaches the
		// brokers at the configured Kafka address, as clients do.
		admins := &clusterAdmins{internal: internal, addr: advertised(cfg.Kafka.AdvertisedAddr, cmp.Or(p.KafkaAddr, cfg.Kafka.Addr))}
		closers = append(closers, admins.close)
		if !runsBroker {
			dropper.set(adminDropper{admins})
		}
		cpURL, err := cfg.ControlPlaneURL()
		if err != nil {
			return err
		}
		// The gRPC address is known before the control plane opens: the
		// brokers of dedicated clusters are told it.
		grpcLis, err = listen(opts.GRPCListener, cfg.GRPC.Addr, "grpc")
		if err != nil {
			return err
		}
		p.GRPCAddr = grpcLis.Addr().String()
		closers = append(closers, func() { _ = grpcLis.Close() })
		dedicatedProv, closeDedicated, err := dedicatedProvisioner(cfg, p.GRPCAddr, secret, internal, log)
		if err != nil {
			return err
		}
		closers = append(closers, closeDedicated)
		cp, err = controlplane.Open(ctx, controlplane.Options{
			MetadataURL:            cpURL,
			SharedBootstrap:        admins.addr,
			DataDropper:            dropper,
			DedicatedProvisioner:   dedicatedProv,
			KafkaAdmin:             admins,
			RESTEndpoint:           "http://" + p.HTTPAddr,
			RateLimit:              cfg.HTTP.RateLimit,
			RateBurst:              cfg.HTTP.RateBurst,
			Metrics:                p.registry,
			BrokerSecret:           secret,
			InternalCredentialHash: internal.hash(),
			Logger:                 log.With("component", "controlplane"),
		})
		if err != nil {
			return fmt.Errorf("open control plane: %w", err)
		}
		closers = append(closers, func() { _ = cp.Close() })
		admins.resolve = dedicatedBootstrap(cp.Store(), admins.addr)
		tasks = append(tasks, task{"reconciler", cp.Run})

		tasks = append(tasks, task{"grpc", func(ctx context.Context) error { return cp.ServeGRPC(ctx, grpcLis) }})
	}

	if runsBroker {
		// One code path: a broker beside the control plane watches it over
		// its gRPC listener, as a broker in another process does.
		cpAddr := cmp.Or(cfg.ControlPlane.Addr, cfg.GRPC.Addr)
		if runsCP {
			cpAddr = p.GRPCAddr
		}
		watch, err := cpwatch.New(cpwatch.Options{
			Addr:             cpAddr,
			Secret:           secret,
			SnapshotPath:     filepath.Join(cfg.Storage.DataDir, cpwatch.SnapshotFile),
			BrokerID:         advertised(cfg.Kafka.AdvertisedAddr, p.KafkaAddr),
			DedicatedCluster: cfg.Kafka.DedicatedCluster,
			Metrics:          p.registry,
			Logger:           log.With("component", "cpwatch"),
		})
		if err != nil {
			return fmt.Errorf("control plane watch: %w", err)
		}
		closers = append(closers, func() { _ = watch.Close() })
		tasks = append(tasks, task{"controlplane watch", watch.Run})
		dp, err := openDataplane(ctx, cfg, log, dataplaneOptions{
			listeners: kafkaListeners,
			watch:     watch,
			metrics:   p.registry,
		})
		if err != nil {
			return err
		}
		closers = append(closers, dp.close)
		if runsCP {
			dropper.set(dp)
		}
		tasks = append(tasks, task{"broker", dp.serve})
	}

	if runsGateway {
		gw, err := gateway.New(ctx, gateway.Options{Conn: cp.Conn(), Tokens: cp, Logger: log.With("component", "gateway")})
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		gw.Mount(p.mux)
	}
	if opts.Dev && runsCP {
		creds, path, err := bootstrapDev(ctx, cfg, cp, p)
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		p.Credentials, p.CredentialsFile = creds, path
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(tasks)+1)

	srv := &http.Server{Handler: traced(p.mux), ReadHeaderTimeout: 10 * time.Second}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.run(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", t.name, err)
			}
		}()
	}

	p.health.SetReady("process", nil)
	log.Info("affluent started", "http", p.HTTPAddr, "grpc", p.GRPCAddr, "kafka", p.KafkaAddr,
		"kafka_tls", p.KafkaTLSAddr, "kafka_mtls", p.KafkaMTLSAddr, "roles", cfg.Roles)
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
		_ = srv.Close()
	}
	cancel()
	wg.Wait()
	log.Info("affluent stopped")
	return runErr
}

// kafkaListeners opens the Kafka listeners the configuration asks for:
// SASL_PLAINTEXT always, SASL_SSL and mTLS when their addresses are set
// (or tests pass listeners). `affluent dev` makes its TLS material even
// without TLS listeners, so that dev-credentials.json names the CA.
func (p *Process) kafkaListeners(opts Options, listen func(net.Listener, string, string) (net.Listener, error)) ([]kafkaListener, error) {
	cfg := p.cfg
	var out []kafkaListener
	closeAll := func() {
		for _, l := range out {
			_ = l.lis.Close()
		}
	}
	lis, err := listen(opts.KafkaListener, cfg.Kafka.Addr, "kafka")
	if err != nil {
		return nil, err
	}
	p.KafkaAddr = lis.Addr().String()
	out = append(out, kafkaListener{lis: lis, cfg: broker.Listener{Name: broker.ListenerSASLPlaintext}})

	wantTLS := cfg.Kafka.TLSAddr != "" || opts.KafkaTLSListener != nil
	wantMTLS := cfg.Kafka.MTLSAddr != "" || opts.KafkaMTLSListener != nil
	if !wantTLS && !wantMTLS && !opts.Dev {
		return out, nil
	}
	material, err := loadKafkaTLS(cfg)
	if err != nil {
		closeAll()
		return nil, err
	}
	p.CACertFile = material.caFile
	for _, l := range []struct {
		want        bool
		given       net.Listener
		addr, name  string
		clientCerts bool
		bound       *string
	}{
		{wantTLS, opts.KafkaTLSListener, cfg.Kafka.TLSAddr, broker.ListenerSASLSSL, false, &p.KafkaTLSAddr},
		{wantMTLS, opts.KafkaMTLSListener, cfg.Kafka.MTLSAddr, broker.ListenerMTLS, true, &p.KafkaMTLSAddr},
	} {
		if !l.want {
			continue
		}
		lis, err := listen(l.given, l.addr, "kafka "+l.name)
		if err != nil {
			closeAll()
			return nil, err
		}
		*l.bound = lis.Addr().String()
		out = append(out, kafkaListener{lis: lis, cfg: broker.Listener{Name: l.name, TLS: material.serverTLS(l.clientCerts),
			ClientCertificates: l.clientCerts, AdvertisedAddr: advertisedTLS(cfg.Kafka.AdvertisedAddr, *l.bound)}})
	}
	return out, nil
}

// advertisedTLS is what a TLS listener bound at bound advertises: the host
// of the configured advertised address with the listener's port, or
// nothing (each connection's local address) without one.
func advertisedTLS(configured, bound string) string {
	host, _, err := net.SplitHostPort(configured)
	if configured == "" || err != nil {
		return ""
	}
	_, port, err := net.SplitHostPort(bound)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(host, port)
}

func advertised(configured, actual string) string {
	if configured != "" {
		return configured
	}
	return actual
}

// clusterDropper deletes a cluster's data: the in-process dataplane, or
// the brokers' Admin API (adminDropper).
type clusterDropper interface {
	DropClusterData(ctx context.Context, cluster string) error
}

// lateDropper forwards to the dropper set once it exists.
type lateDropper struct {
	mu sync.Mutex // guards d
	d  clusterDropper
}

func (l *lateDropper) set(d clusterDropper) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.d = d
}

func (l *lateDropper) DropClusterData(ctx context.Context, cluster string) error {
	l.mu.Lock()
	d := l.d
	l.mu.Unlock()
	if d == nil {
		return errors.New("no broker to drop the cluster's data yet")
	}
	return d.DropClusterData(ctx, cluster)
}

// BrokerSecretEnv holds the broker secret itself (it wins over the file).
const BrokerSecretEnv = config.EnvPrefix + "BROKER_SECRET"

// BrokerSecretFile is the default file of the broker secret in DATA_DIR.
const BrokerSecretFile = "broker-secret"

// brokerSecret is the secret brokers present to the control plane: the
// environment's, else the configured file's, else DATA_DIR/broker-secret.
// A control plane makes that file (0600) when it is missing; a broker
// alone refuses to start without a secret. The secret is never logged.
func brokerSecret(cfg config.Config, create bool, log *slog.Logger) (string, error) {
	if v := strings.TrimSpace(os.Getenv(BrokerSecretEnv)); v != "" {
		return v, nil
	}
	path := cmp.Or(cfg.ControlPlane.BrokerSecretFile, filepath.Join(cfg.Storage.DataDir, BrokerSecretFile))
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		if v := strings.TrimSpace(string(raw)); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("broker secret file %s is empty", path)
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("broker secret: %w", err)
	case !create || cfg.ControlPlane.BrokerSecretFile != "":
		return "", fmt.Errorf("broker secret: %s does not exist: give brokers the control plane's secret with --broker-secret-file or %s", path, BrokerSecretEnv)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	// O_EXCL: two processes on one data dir must not both make one.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return brokerSecret(cfg, false, log)
	}
	if err != nil {
		return "", fmt.Errorf("broker secret: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("broker secret %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("broker secret %s: %w", path, err)
	}
	log.Info("made the broker secret; give it to brokers in other processes", "file", path)
	return secret, nil
}

// internalCredential lets the control plane act on any cluster through
// the Kafka Admin API (user cpwatch.InternalUserPrefix+<cluster>, acting
// as cpwatch.InternalPrincipal). Brokers get only its argon2id hash, in
// their config snapshot.
type internalCredential struct {
	secret string
}

// internalCredentialOf derives the internal credential from the broker
// secret: every control-plane replica of a deployment shares the broker
// secret, so they derive the same credential, and any of them reaches
// the brokers that watch another (a random one per process failed SASL
// there). It hides nothing from brokers, which hold the broker secret.
func internalCredentialOf(brokerSecret string) internalCredential {
	mac := hmac.New(sha256.New, []byte(brokerSecret))
	mac.Write([]byte("affluent internal admin credential v1"))
	return internalCredential{secret: base64.RawURLEncoding.EncodeToString(mac.Sum(nil))}
}

// hash is the verifier brokers check the secret against: argon2id
// (credential.DefaultParams, in credential's PHC form) with a salt derived
// from the secret, so that every replica publishes the same hash and
// replicas' snapshots do not differ by a salt (a broker moving between
// them would take each as new). A salt derived from the secret is safe
// here: salts defeat precomputed guesses at low-entropy secrets, and this
// one is 256 bits of HMAC output.
func (c internalCredential) hash() string {
	p := credential.DefaultParams
	salt := sha256.Sum256([]byte("affluent internal admin credential salt v1\x00" + c.secret))
	sum := argon2.IDKey([]byte(c.secret), salt[:16], p.Time, p.Memory, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt[:16]), base64.RawStdEncoding.EncodeToString(sum))
}
