package cli

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/affluent-io/affluent/internal/app"
	"github.com/affluent-io/affluent/internal/config"
)

func newDevCommand(environ []string) *cobra.Command {
	var cfg config.Config
	cfg.SetDefaults()
	var configPath string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole platform in one process with embedded stores",
		Long: `Run the control plane, the gateway and a broker in one process, with SQLite and a
directory as stores. On first start it creates an organization, an environment, a
serverless cluster and an admin service account with API keys, and writes them to
DATA_DIR/dev-credentials.json. State survives a restart with the same data dir.`,
		Example: `  affluent dev
  affluent dev --data-dir /tmp/affluent --kafka-addr 127.0.0.1:19092`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := loadConfig(cmd, &cfg, configPath, environ); err != nil {
				return err
			}
			if err := os.MkdirAll(cfg.Storage.DataDir, 0o700); err != nil {
				return fmt.Errorf("data dir: %w", err)
			}
			log := cfg.Log.NewLogger(os.Stderr)
			slog.SetDefault(log)
			out := cmd.OutOrStdout()
			return app.Run(cmd.Context(), app.Options{
				Config: cfg,
				Logger: log,
				Dev:    true,
				Ready: func(p *app.Process) {
					c := p.Credentials
					fmt.Fprintf(out, "Affluent is ready.\n"+
						"  Kafka bootstrap: %s (SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256/512, OAUTHBEARER)\n"+
						"  REST API:        http://%s\n"+
						"  gRPC API:        %s\n"+
						"  Cluster:         %s in environment %s\n"+
						"  Credentials:     %s\n",
						c.BootstrapServers, p.HTTPAddr, p.GRPCAddr, c.ClusterID, c.EnvironmentID, p.CredentialsFile)
					if p.KafkaTLSAddr != "" {
						fmt.Fprintf(out, "  Kafka SASL_SSL:  %s\n", p.KafkaTLSAddr)
					}
					if p.KafkaMTLSAddr != "" {
						fmt.Fprintf(out, "  Kafka mTLS:      %s\n", p.KafkaMTLSAddr)
					}
					if c.CACertFile != "" {
						fmt.Fprintf(out, "  CA certificate:  %s\n", c.CACertFile)
					}
					fmt.Fprintf(out, "  OAuth tokens:    %s\n", c.OAuthTokenEndpoint)
				},
			})
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration file (flags and AFFLUENT_* variables override it)")
	cfg.RegisterFlags(cmd.Flags(), false)
	return cmd
}
