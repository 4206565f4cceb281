// Package cli is the `affluent` command: the server commands (`dev`,
// `server`) and, as they are built, the user commands that drive the API.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes scripts can rely on.
const (
	ExitOK    = 0
	ExitError = 1 // the command ran and failed
	ExitUsage = 2 // bad flags, arguments or configuration
)

// usageError marks an error the user can fix by changing the command line
// or configuration; it exits with ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// setupError is a usage error about the CLI's configuration (no context,
// no Kafka key for a cluster) whose message says what to run to fix it.
type setupError struct{ err error }

func (e setupError) Error() string { return e.err.Error() }
func (e setupError) Unwrap() error { return e.err }

// cliApp is what every user command shares: the process environment and
// the global flags.
type cliApp struct {
	environ []string
	stderr  io.Writer
	// output is --output: table, json or yaml.
	output string
	// contextName is --context.
	contextName string
}

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer, environ []string) *cobra.Command {
	a := &cliApp{environ: environ, stderr: stderr}
	root := &cobra.Command{
		Use:   "affluent",
		Short: "Affluent: serverless, multi-tenant Kafka",
		Long: `Affluent runs a serverless, multi-tenant streaming platform that speaks the Kafka protocol,
and is the command-line client of its API.

Start with ` + "`affluent login`" + `: it saves a context (API endpoint, API key, default
environment and cluster, Kafka credentials) in ~/.config/affluent/config.yaml
($AFFLUENT_CONFIG or $XDG_CONFIG_HOME to move it). Every command prints a table,
or with --output json|yaml a document scripts can parse. Exit status: 0 ok,
1 failed, 2 bad usage (flags, arguments, no context).`,
		Example: `  affluent login --credentials-file .affluent/dev-credentials.json
  affluent kafka topic create orders --partitions 3
  printf 'k1,hello\n' | affluent kafka topic produce orders --parse-key --key-separator ,
  affluent kafka topic consume orders --from-beginning --print-key --max-messages 1`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(outputFormats, a.output) {
				return usageError{fmt.Errorf("--output %q: want one of %s", a.output, strings.Join(outputFormats, ", "))}
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVarP(&a.output, "output", "o", formatTable, "output format: table, json or yaml")
	root.PersistentFlags().StringVar(&a.contextName, "context", "", "context to use instead of the current one ($AFFLUENT_CONTEXT)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("context", a.completeContexts)
	root.AddCommand(
		newDevCommand(environ),
		newServerCommand(environ),
		newVersionCommand(a),
		newLoginCommand(a),
		newContextCommand(a),
		newEnvironmentCommand(a),
		newKafkaCommand(a),
		newIAMCommand(a),
		newAPIKeyCommand(a),
	)
	return root
}

// Main runs the command line args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	return execute(ctx, NewRoot(stdout, stderr, environ), args, stderr)
}

// execute runs args on root and reports an error as one line on stderr.
func execute(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	err = explain(err)
	// One line, so scripts and humans see the whole problem at once.
	msg := "affluent: " + strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	var se setupError
	if errors.As(err, &se) {
		// The message already says what to run; --help would not help.
		fmt.Fprintln(stderr, msg)
		return ExitUsage
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		if cmd != nil {
			msg += fmt.Sprintf(" (see '%s --help')", cmd.CommandPath())
		}
		fmt.Fprintln(stderr, msg)
		return ExitUsage
	}
	fmt.Fprintln(stderr, msg)
	return ExitError
}

// isCobraUsage recognises the argument errors cobra returns without a hook
// (unknown commands, wrong argument counts).
func isCobraUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command") || strings.HasPrefix(s, "unknown shorthand") ||
		strings.HasPrefix(s, "unknown flag") || strings.Contains(s, "arg(s)") ||
		strings.HasPrefix(s, "required flag") || strings.HasPrefix(s, "if any flags in the group") ||
		strings.HasPrefix(s, "at least one of the flags") || strings.Contains(s, "were all set")
}
