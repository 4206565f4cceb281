// Command affluent runs the Affluent platform (`affluent dev`, `affluent
// server`) and is the command-line client of its API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/affluent-io/affluent/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}
