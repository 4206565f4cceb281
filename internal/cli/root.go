// Package cli is the `affluent` command: the server commands (`dev`,
// `server`) and, as they are built, the user commands that drive the API.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer, environ []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "affluent",
		Short:         "Affluent: serverless, multi-tenant Kafka",
		Long:          "Affluent runs a serverless, multi-tenant streaming platform that speaks the Kafka protocol,\nand is the command-line client of its API.",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newDevCommand(environ),
		newServerCommand(environ),
		newVersionCommand(),
	)
	return root
}

// Main runs the command line args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	root := NewRoot(stdout, stderr, environ)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	// One line, so scripts and humans see the whole problem at once.
	msg := "affluent: " + strings.ReplaceAll(err.Error(), "\n", "; ")
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
		strings.HasPrefix(s, "unknown flag") || strings.Contains(s, "arg(s)")
}
