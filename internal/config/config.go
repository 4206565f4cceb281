// Package config is the configuration of an Affluent process: one struct per
// section, each with its defaults, flags and validation, filled from an
// optional YAML file, then AFFLUENT_* environment variables, then flags
// (flags win). Every problem is reported at once, not the first only.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts the environment variable of every flag: --http-addr is
// AFFLUENT_HTTP_ADDR.
const EnvPrefix = "AFFLUENT_"

// Roles a server process can take.
const (
	RoleControlPlane = "controlplane"
	RoleGateway      = "gateway"
	RoleBroker       = "broker"
)

var allRoles = []string{RoleControlPlane, RoleGateway, RoleBroker}

// Config is the whole configuration of one process.
type Config struct {
	Log     Log     `yaml:"log"`
	HTTP    HTTP    `yaml:"http"`
	GRPC    GRPC    `yaml:"grpc"`
	Kafka   Kafka   `yaml:"kafka"`
	Storage Storage `yaml:"storage"`
	// ControlPlane is how a broker reaches the control plane.
	ControlPlane ControlPlane `yaml:"controlplane"`
	// Dedicated is how the control plane runs DEDICATED clusters' brokers.
	Dedicated Dedicated `yaml:"dedicated"`
	// Roles this process serves; `affluent dev` serves all of them.
	Roles string `yaml:"roles"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// HTTP is the address of health, metrics and (with the gateway role) the REST API.
type HTTP struct {
	Addr string `yaml:"addr"`
	// RateLimit is each API principal's requests per second (0: the
	// default of 50; negative: no limit) and RateBurst its burst.
	RateLimit float64 `yaml:"rate_limit"`
	RateBurst int     `yaml:"rate_burst"`
}

// GRPC is the address of the control plane's gRPC API.
type GRPC struct {
	Addr string `yaml:"addr"`
}

// Kafka configures the broker's Kafka listeners: SASL_PLAINTEXT at Addr,
// and when their addresses are set SASL_SSL at TLSAddr and mTLS (client
// certificates, no SASL) at MTLSAddr.
type Kafka struct {
	Addr           string `yaml:"addr"`
	AdvertisedAddr string `yaml:"advertised_addr"`
	TLSAddr        string `yaml:"tls_addr"`
	MTLSAddr       string `yaml:"mtls_addr"`
	// TLSCertFile and TLSKeyFile are the PEM server certificate (chain) and
	// key of the TLS listeners; when empty, a CA and a certificate for
	// 127.0.0.1 and localhost are generated once in DATA_DIR/tls.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// MaxReauth bounds SASL sessions (connections.max.reauth.ms, KIP-368):
	// clients re-authenticate within it, so a deleted credential stops
	// working on open connections too. 0: sessions are not bounded.
	MaxReauth time.Duration `yaml:"max_reauth"`
	// BrokerID is this broker's node id among the brokers sharing the
	// dataplane metadata DB; -1 claims the smallest free one, kept in
	// DATA_DIR/broker-id.json across restarts. Rack is reported to clients.
	BrokerID int32  `yaml:"broker_id"`
	Rack     string `yaml:"rack"`
	// DedicatedCluster makes this broker one of a DEDICATED cluster's:
	// it serves that cluster only. Empty: a broker of the shared fleet,
	// serving the SERVERLESS clusters.
	DedicatedCluster string `yaml:"dedicated_cluster"`
}

// ControlPlane is how brokers and the control plane find each other.
// Brokers watch the control plane's gRPC API for their configuration
// (tenants, credential verifiers, role bindings), authenticated by a
// shared broker secret: the value of AFFLUENT_BROKER_SECRET, else the
// content of BrokerSecretFile (default DATA_DIR/broker-secret, which a
// control plane makes when it is missing). The secret is never printed.
type ControlPlane struct {
	// Addr is the control plane's gRPC address, for a broker without the
	// controlplane role in its process (default: this process's GRPC.Addr).
	Addr             string `yaml:"addr"`
	BrokerSecretFile string `yaml:"broker_secret_file"`
}

// Storage says where durable state lives.
type Storage struct {
	DataDir string `yaml:"data_dir"`
	// ObjectStoreURL is a gocloud.dev/blob URL (file://, s3://); empty means
	// a directory under DataDir.
	ObjectStoreURL string `yaml:"object_store"`
	// MetadataURL is the dataplane's metadata DB (offsets, chunk locations,
	// groups): sqlite:// or postgres://; empty means SQLite under DataDir.
	MetadataURL string `yaml:"metadata_db"`
	// ControlPlaneURL is the control plane's DB (organizations, clusters,
	// IAM): sqlite:// or postgres://; empty means SQLite under DataDir.
	ControlPlaneURL string `yaml:"controlplane_db"`
	// MetadataShared says other broker processes write the metadata DB
	// too, so a SQLite file is read again for their commits as a shared
	// PostgreSQL DB is (the brokers of a local DEDICATED cluster).
	MetadataShared bool `yaml:"metadata_db_shared"`

	// The broker's read caches and compactor. Zero values mean the
	// storage engine's defaults (dataplane/storage/tiered).
	//
	// LocalCacheDir holds the local disk tier: the newest data of each
	// partition, so consumers a little behind the tail read the local disk
	// instead of object storage. Empty: no disk tier. Its content is a
	// cache, emptied when the broker starts. LocalCacheSize bounds it
	// (default 1GiB).
	LocalCacheDir  string   `yaml:"local_cache_dir"`
	LocalCacheSize ByteSize `yaml:"local_cache_size"`
	// MemoryCacheSize bounds the memory cache of recent data that keeps
	// consumers at the tail off object storage (default 256MiB).
	MemoryCacheSize ByteSize `yaml:"memory_cache_size"`
	// CompactionInterval is the pause between compaction passes (WAL into
	// segments, retention, cleanup.policy=compact, garbage collection);
	// default 30s. Negative: this broker does not compact (another broker
	// sharing the metadata DB and bucket does).
	CompactionInterval time.Duration `yaml:"compaction_interval"`
}

// Dedicated provisioners: how DEDICATED clusters get brokers of their own.
const (
	// DedicatedLocal runs each cluster's brokers as `affluent server
	// --roles broker` processes on this machine, under DATA_DIR/dedicated.
	DedicatedLocal = "local"
	// DedicatedKubernetes applies a StatefulSet, Service and ConfigMap per
	// cluster with kubectl.
	DedicatedKubernetes = "kubernetes"
	// DedicatedNone refuses DEDICATED clusters (they FAIL).
	DedicatedNone = "none"
)

// Dedicated configures the control plane's provisioner of DEDICATED
// clusters.
type Dedicated struct {
	// Provisioner is local (default), kubernetes or none.
	Provisioner string `yaml:"provisioner"`
	// BrokerBinary is the affluent executable local brokers run (default:
	// this process's own).
	BrokerBinary string `yaml:"broker_binary"`
	// Host is the address local brokers listen on and give clients
	// (default 127.0.0.1: clients on this machine only).
	Host string `yaml:"host"`
	// Kubernetes is the kubernetes provisioner's.
	Kubernetes DedicatedKubernetesConfig `yaml:"kubernetes"`
}

// DedicatedKubernetesConfig is where and how the kubernetes provisioner
// runs brokers. In ObjectStore and MetadataDB, {cluster} stands for the
// cluster id with '-' as '_' (lkc_…), so that each cluster has its own
// bucket prefix and database.
type DedicatedKubernetesConfig struct {
	Namespace string `yaml:"namespace"`
	Image     string `yaml:"image"`
	// ControlPlaneAddr is the control plane's gRPC address as pods reach it.
	ControlPlaneAddr string `yaml:"controlplane_addr"`
	// BrokerSecret names the Secret whose key broker-secret brokers present.
	BrokerSecret string `yaml:"broker_secret"`
	ObjectStore  string `yaml:"object_store"`
	MetadataDB   string `yaml:"metadata_db"`
	// Kubectl is the kubectl executable (default: kubectl in PATH).
	Kubectl string `yaml:"kubectl"`
}

// SetDefaults fills every field with the value `affluent dev` uses.
func (c *Config) SetDefaults() {
	c.Log = Log{Level: "info", Format: "text"}
	c.HTTP = HTTP{Addr: "127.0.0.1:8080"}
	c.GRPC = GRPC{Addr: "127.0.0.1:8090"}
	c.Kafka = Kafka{Addr: "127.0.0.1:9092", BrokerID: -1}
	c.Storage = Storage{DataDir: "./.affluent"}
	c.Dedicated = Dedicated{Provisioner: DedicatedLocal, Host: "127.0.0.1", Kubernetes: DedicatedKubernetesConfig{
		Namespace: "affluent-dedicated", Image: "ghcr.io/affluent-io/affluent:latest",
		ControlPlaneAddr: "affluent-controlplane:8090", BrokerSecret: "affluent-broker-secret", Kubectl: "kubectl"}}
	c.Roles = strings.Join(allRoles, ",")
}

// RegisterFlags binds a flag to every field. includeRoles adds --roles,
// which only `affluent server` takes.
func (c *Config) RegisterFlags(fs *pflag.FlagSet, includeRoles bool) {
	fs.StringVar(&c.Log.Level, "log-level", c.Log.Level, "log level: debug, info, warn or error")
	fs.StringVar(&c.Log.Format, "log-format", c.Log.Format, "log format: text or json")
	fs.StringVar(&c.HTTP.Addr, "http-addr", c.HTTP.Addr, "HTTP address for REST, /healthz, /readyz and /metrics")
	fs.Float64Var(&c.HTTP.RateLimit, "api-rate-limit", c.HTTP.RateLimit, "API requests per second per principal (0: default 50; negative: unlimited)")
	fs.IntVar(&c.HTTP.RateBurst, "api-rate-burst", c.HTTP.RateBurst, "API request burst per principal (0: default 100)")
	fs.StringVar(&c.GRPC.Addr, "grpc-addr", c.GRPC.Addr, "gRPC address of the control-plane API")
	fs.StringVar(&c.Kafka.Addr, "kafka-addr", c.Kafka.Addr, "Kafka listener address (SASL_PLAINTEXT)")
	fs.StringVar(&c.Kafka.AdvertisedAddr, "kafka-advertised-addr", c.Kafka.AdvertisedAddr, "Kafka address given to clients (default: the listener address)")
	fs.StringVar(&c.Kafka.TLSAddr, "kafka-tls-addr", c.Kafka.TLSAddr, "Kafka SASL_SSL listener address (default: none)")
	fs.StringVar(&c.Kafka.MTLSAddr, "kafka-mtls-addr", c.Kafka.MTLSAddr, "Kafka TLS listener address requiring a client certificate (default: none)")
	fs.StringVar(&c.Kafka.TLSCertFile, "kafka-tls-cert", c.Kafka.TLSCertFile, "PEM server certificate of the TLS listeners (default: generated in DATA_DIR/tls)")
	fs.StringVar(&c.Kafka.TLSKeyFile, "kafka-tls-key", c.Kafka.TLSKeyFile, "PEM private key of --kafka-tls-cert")
	fs.DurationVar(&c.Kafka.MaxReauth, "kafka-max-reauth", c.Kafka.MaxReauth, "longest SASL session before clients must re-authenticate (0: unbounded)")
	fs.Int32Var(&c.Kafka.BrokerID, "broker-id", c.Kafka.BrokerID, "node id of this broker among those sharing the metadata DB (-1: claim one, kept in DATA_DIR)")
	fs.StringVar(&c.Kafka.Rack, "broker-rack", c.Kafka.Rack, "rack (zone) of this broker, reported to clients")
	fs.StringVar(&c.ControlPlane.Addr, "controlplane-addr", c.ControlPlane.Addr, "control plane gRPC address a broker watches (default: --grpc-addr)")
	fs.StringVar(&c.ControlPlane.BrokerSecretFile, "broker-secret-file", c.ControlPlane.BrokerSecretFile, "file holding the secret brokers present to the control plane (default: DATA_DIR/broker-secret; AFFLUENT_BROKER_SECRET overrides)")
	fs.StringVar(&c.Storage.DataDir, "data-dir", c.Storage.DataDir, "directory for embedded stores and generated credentials")
	fs.StringVar(&c.Storage.ObjectStoreURL, "object-store", c.Storage.ObjectStoreURL, "object store URL (file:///dir, s3://bucket?...); default: DATA_DIR/objects")
	fs.StringVar(&c.Storage.MetadataURL, "metadata-db", c.Storage.MetadataURL, "dataplane metadata DB URL (sqlite:///path, postgres://...); default: SQLite in DATA_DIR")
	fs.StringVar(&c.Storage.ControlPlaneURL, "controlplane-db", c.Storage.ControlPlaneURL, "control-plane DB URL (sqlite:///path, postgres://...); default: SQLite in DATA_DIR")
	fs.StringVar(&c.Storage.LocalCacheDir, "local-cache-dir", c.Storage.LocalCacheDir, "directory of the broker's local disk cache of recent data, emptied at start (default: none)")
	fs.Var(&c.Storage.LocalCacheSize, "local-cache-size", "size bound of --local-cache-dir, e.g. 10GiB (default 1GiB)")
	fs.Var(&c.Storage.MemoryCacheSize, "memory-cache-size", "size bound of the broker's memory cache of recent data, e.g. 512MiB (default 256MiB)")
	fs.DurationVar(&c.Storage.CompactionInterval, "compaction-interval", c.Storage.CompactionInterval, "pause between storage compaction passes (default 30s; negative: this broker does not compact)")
	fs.StringVar(&c.Kafka.DedicatedCluster, "dedicated-cluster", c.Kafka.DedicatedCluster, "serve only this DEDICATED cluster (lkc-…); default: a shared-fleet broker serving SERVERLESS clusters")
	fs.BoolVar(&c.Storage.MetadataShared, "metadata-db-shared", c.Storage.MetadataShared, "other broker processes write the SQLite metadata DB too; read their commits")
	d := &c.Dedicated
	fs.StringVar(&d.Provisioner, "dedicated-provisioner", d.Provisioner, "how DEDICATED clusters get brokers: local (processes on this machine), kubernetes, or none")
	fs.StringVar(&d.BrokerBinary, "dedicated-broker-binary", d.BrokerBinary, "affluent executable of local dedicated brokers (default: this one)")
	fs.StringVar(&d.Host, "dedicated-host", d.Host, "address local dedicated brokers listen on and give clients")
	fs.StringVar(&d.Kubernetes.Namespace, "dedicated-k8s-namespace", d.Kubernetes.Namespace, "namespace of dedicated clusters' brokers (kubernetes provisioner)")
	fs.StringVar(&d.Kubernetes.Image, "dedicated-k8s-image", d.Kubernetes.Image, "image of dedicated clusters' brokers (kubernetes provisioner)")
	fs.StringVar(&d.Kubernetes.ControlPlaneAddr, "dedicated-k8s-controlplane-addr", d.Kubernetes.ControlPlaneAddr, "control plane gRPC address as broker pods reach it (kubernetes provisioner)")
	fs.StringVar(&d.Kubernetes.BrokerSecret, "dedicated-k8s-broker-secret", d.Kubernetes.BrokerSecret, "Secret holding key broker-secret for dedicated brokers (kubernetes provisioner)")
	fs.StringVar(&d.Kubernetes.ObjectStore, "dedicated-k8s-object-store", d.Kubernetes.ObjectStore, "object store URL of dedicated clusters, {cluster} replaced (kubernetes provisioner)")
	fs.StringVar(&d.Kubernetes.MetadataDB, "dedicated-k8s-metadata-db", d.Kubernetes.MetadataDB, "metadata DB URL of dedicated clusters, {cluster} replaced (kubernetes provisioner)")
	fs.StringVar(&d.Kubernetes.Kubectl, "dedicated-k8s-kubectl", d.Kubernetes.Kubectl, "kubectl executable (kubernetes provisioner)")
	if includeRoles {
		fs.StringVar(&c.Roles, "roles", c.Roles, "comma-separated roles: controlplane, gateway, broker")
	}
}

// Load fills c in order of precedence: defaults, then the YAML file at path
// (if not empty), then AFFLUENT_* environment variables, then the flags the
// user set on fs. fs must have been registered on c and parsed.
func (c *Config) Load(fs *pflag.FlagSet, path string, environ []string) error {
	// Remember what the user typed before the bound fields are reset.
	typed := map[string]string{}
	fs.Visit(func(f *pflag.Flag) { typed[f.Name] = f.Value.String() })

	c.SetDefaults()
	if path != "" {
		if err := c.loadFile(path); err != nil {
			return err
		}
	}
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "config" {
			return
		}
		if v, ok := env[EnvVar(f.Name)]; ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvVar(f.Name), err))
			}
		}
	})
	for name, v := range typed {
		if name == "config" {
			continue
		}
		if err := fs.Lookup(name).Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return c.Validate()
}

// EnvVar is the environment variable that sets the flag named name.
func EnvVar(name string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func (c *Config) loadFile(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return fmt.Errorf("config file %s: %s", path, strings.Join(te.Errors, "; "))
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// Validate reports every invalid field at once.
func (c *Config) Validate() error {
	var errs []error
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q: want debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log format %q: want text or json", c.Log.Format))
	}
	for _, a := range []struct{ name, addr string }{
		{"http addr", c.HTTP.Addr}, {"grpc addr", c.GRPC.Addr}, {"kafka addr", c.Kafka.Addr},
	} {
		if err := validateAddr(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", a.name, a.addr, err))
		}
	}
	for _, a := range []struct{ name, addr string }{
		{"kafka advertised addr", c.Kafka.AdvertisedAddr}, {"kafka tls addr", c.Kafka.TLSAddr}, {"kafka mtls addr", c.Kafka.MTLSAddr},
	} {
		if a.addr == "" {
			continue
		}
		if err := validateAddr(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", a.name, a.addr, err))
		}
	}
	if (c.Kafka.TLSCertFile == "") != (c.Kafka.TLSKeyFile == "") {
		errs = append(errs, errors.New("kafka tls cert and key: give both or neither"))
	}
	if c.ControlPlane.Addr != "" {
		if err := validateAddr(c.ControlPlane.Addr); err != nil {
			errs = append(errs, fmt.Errorf("controlplane addr %q: %w", c.ControlPlane.Addr, err))
		}
	}
	if c.Kafka.BrokerID < -1 {
		errs = append(errs, fmt.Errorf("broker id %d: must be >= 0, or -1 to claim one", c.Kafka.BrokerID))
	}
	if c.Kafka.MaxReauth < 0 {
		errs = append(errs, fmt.Errorf("kafka max reauth %v: must not be negative", c.Kafka.MaxReauth))
	}
	if c.HTTP.RateBurst < 0 {
		errs = append(errs, fmt.Errorf("api rate burst %d: must not be negative", c.HTTP.RateBurst))
	}
	if c.Storage.DataDir == "" {
		errs = append(errs, errors.New("data dir must not be empty"))
	}
	if c.Storage.LocalCacheSize > 0 && c.Storage.LocalCacheDir == "" {
		errs = append(errs, fmt.Errorf("local cache size %v: set a local cache dir too", c.Storage.LocalCacheSize))
	}
	switch c.Dedicated.Provisioner {
	case DedicatedLocal:
		if ip := net.ParseIP(c.Dedicated.Host); c.Dedicated.Host == "" || ip != nil && ip.IsUnspecified() {
			errs = append(errs, fmt.Errorf("dedicated host %q: want an address clients can reach", c.Dedicated.Host))
		}
	case DedicatedNone:
	case DedicatedKubernetes:
		k := c.Dedicated.Kubernetes
		for _, f := range []struct{ name, v string }{{"namespace", k.Namespace}, {"image", k.Image},
			{"controlplane addr", k.ControlPlaneAddr}, {"broker secret", k.BrokerSecret},
			{"object store", k.ObjectStore}, {"metadata db", k.MetadataDB}, {"kubectl", k.Kubectl}} {
			if f.v == "" {
				errs = append(errs, fmt.Errorf("dedicated kubernetes %s: must be set with the kubernetes provisioner", f.name))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("dedicated provisioner %q: want local, kubernetes or none", c.Dedicated.Provisioner))
	}
	if c.Kafka.DedicatedCluster != "" && !strings.HasPrefix(c.Kafka.DedicatedCluster, "lkc-") {
		errs = append(errs, fmt.Errorf("dedicated cluster %q: want a cluster id, lkc-…", c.Kafka.DedicatedCluster))
	}
	roles, err := ParseRoles(c.Roles)
	if err != nil {
		errs = append(errs, err)
	} else if len(roles) == 0 {
		errs = append(errs, errors.New("roles: name at least one of controlplane, gateway, broker"))
	}
	return errors.Join(errs...)
}

func validateAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want HOST:PORT")
	}
	if port == "" {
		return errors.New("missing port")
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// ParseRoles splits a comma-separated role list and checks each name.
func ParseRoles(s string) ([]string, error) {
	var roles []string
	for r := range strings.SplitSeq(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !slices.Contains(allRoles, r) {
			return nil, fmt.Errorf("unknown role %q: want controlplane, gateway or broker", r)
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	return roles, nil
}

// HasRole reports whether the configured roles include role.
func (c *Config) HasRole(role string) bool {
	roles, _ := ParseRoles(c.Roles)
	return slices.Contains(roles, role)
}

// ObjectStoreURL is the configured object store, or a directory in DataDir.
func (c *Config) ObjectStoreURL() (string, error) {
	if c.Storage.ObjectStoreURL != "" {
		return c.Storage.ObjectStoreURL, nil
	}
	dir, err := filepath.Abs(filepath.Join(c.Storage.DataDir, "objects"))
	if err != nil {
		return "", err
	}
	return "file://" + filepath.ToSlash(dir), nil
}

// MetadataURL is the configured dataplane metadata DB, or SQLite in DataDir.
func (c *Config) MetadataURL() (string, error) {
	return c.dbURL(c.Storage.MetadataURL, "dataplane.db")
}

// ControlPlaneURL is the configured control-plane DB, or SQLite in DataDir.
func (c *Config) ControlPlaneURL() (string, error) {
	return c.dbURL(c.Storage.ControlPlaneURL, "controlplane.db")
}

func (c *Config) dbURL(configured, file string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	p, err := filepath.Abs(filepath.Join(c.Storage.DataDir, file))
	if err != nil {
		return "", err
	}
	return "sqlite://" + filepath.ToSlash(p), nil
}

// SlogLevel is the configured level for log/slog.
func (l Log) SlogLevel() slog.Level {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// NewLogger builds the process logger.
func (l Log) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: l.SlogLevel()}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
