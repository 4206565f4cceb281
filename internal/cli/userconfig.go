package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// userConfig is the CLI's file of contexts, ~/.config/affluent/config.yaml:
// which API to talk to with which key, and the defaults of --environment
// and --cluster. It holds secrets, so it is written with mode 0600.
type userConfig struct {
	CurrentContext string                 `yaml:"current_context,omitempty"`
	Contexts       map[string]*apiContext `yaml:"contexts,omitempty"`
}

// apiContext is one named set of endpoint, credentials and defaults.
type apiContext struct {
	Endpoint string `yaml:"endpoint"`
	// Insecure talks to the endpoint without TLS (affluent dev).
	Insecure     bool   `yaml:"insecure,omitempty"`
	APIKey       string `yaml:"api_key"`
	APISecret    string `yaml:"api_secret"`
	Organization string `yaml:"organization,omitempty"`
	Environment  string `yaml:"environment,omitempty"`
	Cluster      string `yaml:"cluster,omitempty"`
	// KafkaClusters are how to reach each cluster's brokers.
	KafkaClusters map[string]*kafkaCluster `yaml:"kafka_clusters,omitempty"`
	// APIKeySecrets are the secrets of the Kafka API keys created or stored
	// through this context, by key.
	APIKeySecrets map[string]string `yaml:"api_key_secrets,omitempty"`
}

// kafkaCluster is how the CLI reaches one cluster with Kafka clients.
type kafkaCluster struct {
	Environment      string `yaml:"environment,omitempty"`
	BootstrapServers string `yaml:"bootstrap_servers,omitempty"`
	// APIKey is the Kafka API key in use for the cluster; its secret is in
	// APIKeySecrets.
	APIKey string `yaml:"api_key,omitempty"`
}

func (c *apiContext) kafka(cluster string) *kafkaCluster {
	if c.KafkaClusters == nil {
		c.KafkaClusters = map[string]*kafkaCluster{}
	}
	kc := c.KafkaClusters[cluster]
	if kc == nil {
		kc = &kafkaCluster{}
		c.KafkaClusters[cluster] = kc
	}
	return kc
}

func (c *apiContext) storeSecret(key, secret string) {
	if c.APIKeySecrets == nil {
		c.APIKeySecrets = map[string]string{}
	}
	c.APIKeySecrets[key] = secret
}

// forgetKey drops a deleted key's secret and stops using it.
func (c *apiContext) forgetKey(key string) {
	delete(c.APIKeySecrets, key)
	for _, kc := range c.KafkaClusters {
		if kc.APIKey == key {
			kc.APIKey = ""
		}
	}
}

func (u *userConfig) names() []string {
	names := make([]string, 0, len(u.Contexts))
	for n := range u.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// configPath is where the contexts live: $AFFLUENT_CONFIG, else
// $XDG_CONFIG_HOME/affluent/config.yaml, else ~/.config/affluent/config.yaml.
func (a *cliApp) configPath() (string, error) {
	if p := a.getenv("AFFLUENT_CONFIG"); p != "" {
		return p, nil
	}
	if x := a.getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "affluent", "config.yaml"), nil
	}
	home := a.getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", usageError{fmt.Errorf("cannot find the CLI configuration: set $AFFLUENT_CONFIG or $HOME: %w", err)}
		}
	}
	return filepath.Join(home, ".config", "affluent", "config.yaml"), nil
}

func (a *cliApp) getenv(name string) string {
	prefix := name + "="
	for i := len(a.environ) - 1; i >= 0; i-- {
		if strings.HasPrefix(a.environ[i], prefix) {
			return a.environ[i][len(prefix):]
		}
	}
	return ""
}

// loadConfig reads the contexts file; a missing file is an empty config.
func (a *cliApp) loadConfig() (*userConfig, error) {
	path, err := a.configPath()
	if err != nil {
		return nil, err
	}
	cfg := &userConfig{}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read CLI configuration: %w", err)
	}
	if err := yaml.Unmarshal(raw, cfg); err != nil {
		return nil, usageError{fmt.Errorf("%s is not valid YAML (fix or delete it, then run `affluent login`): %w", path, err)}
	}
	return cfg, nil
}

// saveConfig writes the contexts file whole (via a temporary file and a
// rename) with mode 0600, its directory 0700.
func (a *cliApp) saveConfig(cfg *userConfig) error {
	path, err := a.configPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save CLI configuration: %w", err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return err
	}
	raw := buf.Bytes()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("save CLI configuration: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("save CLI configuration: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save CLI configuration: %w", err)
	}
	return nil
}

// errNoContext says how to get one.
var errNoContext = setupError{errors.New("no context: run `affluent login --credentials-file DATA_DIR/dev-credentials.json` (or `affluent login --endpoint HOST:PORT --api-key KEY --api-secret SECRET`)")}

// currentContext returns the context a command uses: --context, else
// $AFFLUENT_CONTEXT, else the current one.
func (a *cliApp) currentContext(cfg *userConfig) (string, *apiContext, error) {
	name := a.contextName
	if name == "" {
		name = a.getenv("AFFLUENT_CONTEXT")
	}
	if name == "" {
		name = cfg.CurrentContext
	}
	if name == "" {
		return "", nil, errNoContext
	}
	c := cfg.Contexts[name]
	if c == nil {
		if len(cfg.Contexts) == 0 {
			return "", nil, errNoContext
		}
		return "", nil, setupError{fmt.Errorf("no context %q: see `affluent context list`", name)}
	}
	return name, c, nil
}
