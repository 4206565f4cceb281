package cli

import (
	"runtime"

	"github.com/spf13/cobra"

	"github.com/affluent-io/affluent/internal/version"
)

// versionInfo is what `affluent version -o json` prints.
type versionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func newVersionCommand(a *cliApp) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of this binary",
		Example: "  affluent version\n  affluent version -o json | jq -r .version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionInfo{Version: version.Version, Commit: version.Commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			return a.printer(cmd).message(v, "affluent %s (commit %s, %s %s)", v.Version, v.Commit, v.Go, v.Platform)
		},
	}
}
