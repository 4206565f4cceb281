package provider

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/affluent-io/affluent/internal/app"
	"github.com/affluent-io/affluent/internal/config"
	"github.com/affluent-io/affluent/sdk"
)

// testAccProtoV6ProviderFactories runs the provider in-process for every
// acceptance test.
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"affluent": providerserver.NewProtocol6WithError(New("test")()),
}

// The control plane the acceptance tests run against: `affluent dev`
// in-process on loopback listeners, started once by TestMain.
var (
	devCreds   *app.DevCredentials
	grpcAddr   string
	testClient *sdk.Client // for changes made outside Terraform (drift)
)

func TestMain(m *testing.M) {
	os.Exit(runAcceptance(m))
}

func runAcceptance(m *testing.M) int {
	// Acceptance tests are the point of this package: never let them skip.
	if os.Getenv("TF_ACC") == "" {
		os.Setenv("TF_ACC", "1")
	}
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		if home, err := os.UserHomeDir(); err == nil {
			os.Setenv("TF_ACC_TERRAFORM_PATH", filepath.Join(home, ".cache", "affluent", "tools", "terraform"))
		}
	}
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if st, err := os.Stat(tf); err != nil || st.IsDir() {
		fmt.Fprintf(os.Stderr, "FAIL: no Terraform binary at TF_ACC_TERRAFORM_PATH=%q (%v); run scripts/test-deps.sh\n", tf, err)
		return 1
	}
	os.Setenv("CHECKPOINT_DISABLE", "1") // no calls home from the Terraform CLI

	dir, err := os.MkdirTemp("", "affluent-tf-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	var cfg config.Config
	cfg.SetDefaults()
	cfg.Storage.DataDir = dir
	// Dedicated clusters' brokers are processes of the affluent binary.
	cfg.Dedicated.BrokerBinary = filepath.Join(dir, "affluent")
	if out, err := exec.Command("go", "build", "-o", cfg.Dedicated.BrokerBinary, "github.com/affluent-io/affluent/cmd/affluent").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build affluent: %v\n%s", err, out)
		return 1
	}
	listen := func() net.Listener {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		return lis
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *app.Process, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{
			Config: cfg, Dev: true,
			HTTPListener: listen(), GRPCListener: listen(), KafkaListener: listen(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(p *app.Process) { ready <- p },
		})
	}()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case p := <-ready:
		devCreds, grpcAddr = p.Credentials, p.GRPCAddr
	case err := <-done:
		fmt.Fprintf(os.Stderr, "affluent dev did not start: %v\n", err)
		return 1
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "affluent dev not ready after 60s")
		return 1
	}
	testClient, err = sdk.New(ctx, grpcAddr, sdk.WithAPIKey(devCreds.CloudAPIKey, devCreds.CloudAPISecret), sdk.WithInsecure())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testClient.Close()
	// The provider block reads these, as a user's environment would.
	os.Setenv("AFFLUENT_ENDPOINT", grpcAddr)
	os.Setenv("AFFLUENT_API_KEY", devCreds.CloudAPIKey)
	os.Setenv("AFFLUENT_API_SECRET", devCreds.CloudAPISecret)
	return m.Run()
}

// providerConfig is the provider block of every test configuration.
const providerConfig = `
provider "affluent" {
  insecure = true
}
`
