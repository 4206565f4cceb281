package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/affluent-io/affluent/sdk"
)

// devCredentials is the part of `affluent dev`'s dev-credentials.json the
// CLI uses (CONTRACT.md).
type devCredentials struct {
	OrganizationID   string `json:"organization_id"`
	EnvironmentID    string `json:"environment_id"`
	ClusterID        string `json:"cluster_id"`
	BootstrapServers string `json:"bootstrap_servers"`
	GRPCEndpoint     string `json:"grpc_endpoint"`
	CloudAPIKey      string `json:"cloud_api_key"`
	CloudAPISecret   string `json:"cloud_api_secret"`
	KafkaAPIKey      string `json:"kafka_api_key"`
	KafkaAPISecret   string `json:"kafka_api_secret"`
}

// contextView is how a context shows: everything but secrets.
type contextView struct {
	Name         string `json:"name"`
	Current      bool   `json:"current"`
	Endpoint     string `json:"endpoint"`
	Insecure     bool   `json:"insecure"`
	APIKey       string `json:"api_key"`
	Organization string `json:"organization"`
	Environment  string `json:"environment"`
	Cluster      string `json:"cluster"`
}

func viewContext(name, current string, c *apiContext) contextView {
	return contextView{Name: name, Current: name == current, Endpoint: c.Endpoint, Insecure: c.Insecure, APIKey: c.APIKey,
		Organization: c.Organization, Environment: c.Environment, Cluster: c.Cluster}
}

func newLoginCommand(a *cliApp) *cobra.Command {
	var credsFile, endpoint, key, secret, env, cluster string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Save a context: the API endpoint, an API key and default environment and cluster",
		Long: `Save a context in the CLI configuration and make it current, after checking the
API key with the API. With --credentials-file, everything comes from the file
` + "`affluent dev`" + ` writes: the gRPC endpoint, the cloud API key, the environment and
cluster, and the Kafka bootstrap and API key. Otherwise give --endpoint,
--api-key and --api-secret ($AFFLUENT_API_KEY, $AFFLUENT_API_SECRET). The
context is named by --context (default "dev" for a credentials file, else the
endpoint).`,
		Example: `  affluent login --credentials-file .affluent/dev-credentials.json
  affluent login --context prod --endpoint api.affluent.example:443 --api-key KEY --api-secret SECRET
  affluent login --endpoint 127.0.0.1:8090 --insecure --api-key KEY --api-secret SECRET --environment env-abc`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := &apiContext{Endpoint: endpoint, Insecure: insecure, APIKey: key, APISecret: secret, Environment: env, Cluster: cluster}
			name := a.contextName
			if credsFile != "" {
				if endpoint != "" || key != "" || secret != "" {
					return usageError{errors.New("--credentials-file replaces --endpoint, --api-key and --api-secret; give one or the other")}
				}
				var err error
				if c, err = contextFromCredentials(credsFile); err != nil {
					return err
				}
				if env != "" {
					c.Environment = env
				}
				if cluster != "" {
					c.Cluster = cluster
				}
				if name == "" {
					name = "dev"
				}
			} else {
				if c.APIKey == "" {
					c.APIKey = a.getenv("AFFLUENT_API_KEY")
				}
				if c.APISecret == "" {
					c.APISecret = a.getenv("AFFLUENT_API_SECRET")
				}
				if c.Endpoint == "" || c.APIKey == "" || c.APISecret == "" {
					return usageError{errors.New("give --credentials-file, or --endpoint with --api-key and --api-secret")}
				}
				if name == "" {
					name = c.Endpoint
				}
			}
			if c.Environment != "" {
				if err := checkID("environment", "env-", c.Environment); err != nil {
					return err
				}
			}
			if c.Cluster != "" {
				if err := checkID("cluster", "lkc-", c.Cluster); err != nil {
					return err
				}
			}
			client, err := newSDKClient(cmd.Context(), c)
			if err != nil {
				return usageError{err}
			}
			defer client.Close()
			// Any call checks the key; this one also names the organization.
			for org, err := range client.ListOrganizations(cmd.Context()) {
				if err != nil {
					if errors.Is(err, sdk.ErrUnauthenticated) {
						return fmt.Errorf("login failed: the API at %s refused the API key %s: check the key and secret", c.Endpoint, c.APIKey)
					}
					return err
				}
				c.Organization = org.GetId()
				break
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Contexts == nil {
				cfg.Contexts = map[string]*apiContext{}
			}
			cfg.Contexts[name] = c
			cfg.CurrentContext = name
			if err := a.saveConfig(cfg); err != nil {
				return err
			}
			v := viewContext(name, name, c)
			return a.printer(cmd).message(v, "Logged in to %s as context %q (environment %s, cluster %s).",
				c.Endpoint, name, orNone(c.Environment), orNone(c.Cluster))
		},
	}
	f := cmd.Flags()
	f.StringVar(&credsFile, "credentials-file", "", "dev-credentials.json written by `affluent dev`")
	f.StringVar(&endpoint, "endpoint", "", "gRPC endpoint of the API, host:port")
	f.StringVar(&key, "api-key", "", "cloud API key")
	f.StringVar(&secret, "api-secret", "", "its secret")
	f.BoolVar(&insecure, "insecure", false, "connect without TLS (local development only)")
	f.StringVar(&env, "environment", "", "default environment of the context (env-…)")
	f.StringVar(&cluster, "cluster", "", "default cluster of the context (lkc-…)")
	_ = cmd.MarkFlagFilename("credentials-file", "json")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// contextFromCredentials reads dev-credentials.json.
func contextFromCredentials(path string) (*apiContext, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("credentials file: %w", err)}
	}
	var dc devCredentials
	if err := json.Unmarshal(raw, &dc); err != nil {
		return nil, usageError{fmt.Errorf("credentials file %s is not the JSON `affluent dev` writes: %w", path, err)}
	}
	if dc.GRPCEndpoint == "" || dc.CloudAPIKey == "" || dc.CloudAPISecret == "" {
		return nil, usageError{fmt.Errorf("credentials file %s lacks grpc_endpoint, cloud_api_key or cloud_api_secret", path)}
	}
	c := &apiContext{
		Endpoint: dc.GRPCEndpoint, Insecure: true, // affluent dev serves gRPC without TLS
		APIKey: dc.CloudAPIKey, APISecret: dc.CloudAPISecret,
		Organization: dc.OrganizationID, Environment: dc.EnvironmentID, Cluster: dc.ClusterID,
	}
	if dc.ClusterID != "" {
		kc := c.kafka(dc.ClusterID)
		kc.Environment, kc.BootstrapServers = dc.EnvironmentID, dc.BootstrapServers
		if dc.KafkaAPIKey != "" && dc.KafkaAPISecret != "" {
			kc.APIKey = dc.KafkaAPIKey
			c.storeSecret(dc.KafkaAPIKey, dc.KafkaAPISecret)
		}
	}
	return c, nil
}

func newContextCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "context",
		Aliases: []string{"contexts"},
		Short:   "Manage the CLI's contexts (endpoint, credentials and defaults)",
		Example: `  affluent context list
  affluent context use prod`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:     "list",
			Short:   "List contexts; * marks the current one",
			Example: "  affluent context list -o json",
			Args:    cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, err := a.loadConfig()
				if err != nil {
					return err
				}
				views := []contextView{}
				for _, n := range cfg.names() {
					views = append(views, viewContext(n, cfg.CurrentContext, cfg.Contexts[n]))
				}
				return printContexts(a.printer(cmd), views)
			},
		},
		&cobra.Command{
			Use:               "use NAME",
			Short:             "Make a context the current one",
			Example:           "  affluent context use dev",
			Args:              exactArgs(1, "NAME"),
			ValidArgsFunction: a.completeContexts,
			RunE: func(cmd *cobra.Command, args []string) error {
				cfg, err := a.loadConfig()
				if err != nil {
					return err
				}
				if cfg.Contexts[args[0]] == nil {
					return usageError{fmt.Errorf("no context %q: see `affluent context list`", args[0])}
				}
				cfg.CurrentContext = args[0]
				if err := a.saveConfig(cfg); err != nil {
					return err
				}
				return a.printer(cmd).message(map[string]string{"current_context": args[0]}, "Using context %q.", args[0])
			},
		},
		&cobra.Command{
			Use:     "current",
			Short:   "Print the current context",
			Example: "  affluent context current\n  affluent context current -o json | jq -r .endpoint",
			Args:    cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, err := a.loadConfig()
				if err != nil {
					return err
				}
				name, c, err := a.currentContext(cfg)
				if err != nil {
					return err
				}
				return a.printer(cmd).message(viewContext(name, cfg.CurrentContext, c), "%s", name)
			},
		},
		&cobra.Command{
			Use:               "describe [NAME]",
			Short:             "Show a context (the current one by default), without secrets",
			Example:           "  affluent context describe dev",
			Args:              maxArgs(1, "NAME"),
			ValidArgsFunction: a.completeContexts,
			RunE: func(cmd *cobra.Command, args []string) error {
				cfg, err := a.loadConfig()
				if err != nil {
					return err
				}
				if len(args) == 1 {
					a.contextName = args[0]
				}
				name, c, err := a.currentContext(cfg)
				if err != nil {
					return err
				}
				v := viewContext(name, cfg.CurrentContext, c)
				return a.printer(cmd).value(v, func(w io.Writer) { describeContext(w, v) })
			},
		},
		&cobra.Command{
			Use:               "delete NAME",
			Short:             "Delete a context and the secrets saved with it",
			Example:           "  affluent context delete old-staging",
			Args:              exactArgs(1, "NAME"),
			ValidArgsFunction: a.completeContexts,
			RunE: func(cmd *cobra.Command, args []string) error {
				cfg, err := a.loadConfig()
				if err != nil {
					return err
				}
				if cfg.Contexts[args[0]] == nil {
					return usageError{fmt.Errorf("no context %q: see `affluent context list`", args[0])}
				}
				delete(cfg.Contexts, args[0])
				if cfg.CurrentContext == args[0] {
					cfg.CurrentContext = ""
				}
				if err := a.saveConfig(cfg); err != nil {
					return err
				}
				return a.printer(cmd).message(map[string]string{"deleted": args[0]}, "Deleted context %q.", args[0])
			},
		},
	)
	return cmd
}

func printContexts(p printer, views []contextView) error {
	return p.value(views, func(w io.Writer) {
		fmt.Fprintln(w, "CURRENT\tNAME\tENDPOINT\tAPI KEY\tENVIRONMENT\tCLUSTER")
		for _, v := range views {
			mark := ""
			if v.Current {
				mark = "*"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", mark, v.Name, v.Endpoint, v.APIKey, cell(v.Environment), cell(v.Cluster))
		}
	})
}

func describeContext(w io.Writer, v contextView) {
	fmt.Fprintf(w, "Name\t%s\nCurrent\t%t\nEndpoint\t%s\nInsecure\t%t\nAPI Key\t%s\nOrganization\t%s\nEnvironment\t%s\nCluster\t%s\n",
		v.Name, v.Current, v.Endpoint, v.Insecure, v.APIKey, cell(v.Organization), cell(v.Environment), cell(v.Cluster))
}

func (a *cliApp) completeContexts(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return cfg.names(), cobra.ShellCompDirectiveNoFileComp
}

// exactArgs, maxArgs and minArgs check positional arguments with a message
// naming them.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return usageError{fmt.Errorf("missing %s", names)}
		case len(args) > n:
			return usageError{fmt.Errorf("too many arguments %q: want only %s", args[n:], names)}
		}
		return nil
	}
}

func maxArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Errorf("too many arguments %q: want at most %s", args[n:], names)}
		}
		return nil
	}
}

func minArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError{fmt.Errorf("missing %s", names)}
		}
		return nil
	}
}
