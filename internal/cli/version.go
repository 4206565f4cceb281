package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/affluent-io/affluent/internal/version"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "affluent %s (commit %s, %s %s/%s)\n",
				version.Version, version.Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
