package cli

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/affluent-io/affluent/internal/app"
	"github.com/affluent-io/affluent/internal/config"
)

// loadConfig fills cfg from the config file, the environment and the flags,
// and turns every problem into one usage error.
func loadConfig(cmd *cobra.Command, cfg *config.Config, configPath string, environ []string) error {
	if err := cfg.Load(cmd.Flags(), configPath, environ); err != nil {
		return usageError{err}
	}
	return nil
}

func newServerCommand(environ []string) *cobra.Command {
	var cfg config.Config
	cfg.SetDefaults()
	var configPath string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run production roles (control plane, gateway, broker)",
		Example: `  affluent server --roles broker --config /etc/affluent/affluent.yaml
  AFFLUENT_ROLES=controlplane,gateway affluent server --metadata-db postgres://affluent@db/affluent`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := loadConfig(cmd, &cfg, configPath, environ); err != nil {
				return err
			}
			log := cfg.Log.NewLogger(os.Stderr)
			slog.SetDefault(log)
			return app.Run(cmd.Context(), app.Options{Config: cfg, Logger: log})
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration file (flags and AFFLUENT_* variables override it)")
	cfg.RegisterFlags(cmd.Flags(), true)
	return cmd
}
