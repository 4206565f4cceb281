package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"golang.org/x/term"
	"google.golang.org/grpc/codes"

	"github.com/affluent-io/affluent/sdk"
)

// session is what a command that calls the API works with: the loaded
// configuration, the context in use and a client of its endpoint.
type session struct {
	app    *cliApp
	cfg    *userConfig
	name   string
	ctx    *apiContext
	client *sdk.Client
}

// session loads the current context and connects to its API.
func (a *cliApp) session(cmd *cobra.Command) (*session, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	name, c, err := a.currentContext(cfg)
	if err != nil {
		return nil, err
	}
	client, err := newSDKClient(cmd.Context(), c)
	if err != nil {
		return nil, err
	}
	return &session{app: a, cfg: cfg, name: name, ctx: c, client: client}, nil
}

// withSession makes a RunE that opens the session, runs fn and closes it.
func (a *cliApp) withSession(fn func(cmd *cobra.Command, s *session, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := a.session(cmd)
		if err != nil {
			return err
		}
		defer s.client.Close()
		return fn(cmd, s, args)
	}
}

func (a *cliApp) printer(cmd *cobra.Command) printer {
	return printer{format: a.output, w: cmd.OutOrStdout()}
}

func newSDKClient(ctx context.Context, c *apiContext) (*sdk.Client, error) {
	opts := []sdk.Option{sdk.WithAPIKey(c.APIKey, c.APISecret), sdk.WithUserAgent("affluent-cli")}
	if c.Insecure {
		opts = append(opts, sdk.WithInsecure())
	}
	return sdk.New(ctx, c.Endpoint, opts...)
}

func (s *session) save() error { return s.app.saveConfig(s.cfg) }

var idPattern = regexp.MustCompile(`^[a-z]+-[a-z0-9]+$`)

// checkID checks an id before it reaches the API, so that a typo is a
// usage error that names the expected form.
func checkID(kind, prefix, id string) error {
	if !strings.HasPrefix(id, prefix) || len(id) == len(prefix) || !idPattern.MatchString(id) {
		return usageError{fmt.Errorf("%q is not a%s %s id (%s…)", id, article(kind), kind, prefix)}
	}
	return nil
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "n"
	}
	return ""
}

// environment is --environment, else the context's environment.
func (s *session) environment(flag string) (string, error) {
	env := flag
	if env == "" {
		env = s.ctx.Environment
	}
	if env == "" {
		return "", setupError{errors.New("no environment: pass --environment env-… or run `affluent environment use env-…`")}
	}
	return env, checkID("environment", "env-", env)
}

// cluster is --cluster (and its environment), else the context's cluster.
func (s *session) cluster(envFlag, clusterFlag string) (env, cluster string, err error) {
	cluster = clusterFlag
	if cluster == "" {
		cluster = s.ctx.Cluster
	}
	if cluster == "" {
		return "", "", setupError{errors.New("no cluster: pass --cluster lkc-… or run `affluent kafka cluster use lkc-…`")}
	}
	if err := checkID("cluster", "lkc-", cluster); err != nil {
		return "", "", err
	}
	if envFlag == "" && s.ctx.KafkaClusters[cluster] != nil && s.ctx.KafkaClusters[cluster].Environment != "" {
		envFlag = s.ctx.KafkaClusters[cluster].Environment
	}
	env, err = s.environment(envFlag)
	return env, cluster, err
}

// organization is the context's organization, asked of the API once.
func (s *session) organization(ctx context.Context) (string, error) {
	if s.ctx.Organization != "" {
		return s.ctx.Organization, nil
	}
	for org, err := range s.client.ListOrganizations(ctx) {
		if err != nil {
			return "", err
		}
		s.ctx.Organization = org.GetId()
		return org.GetId(), s.save()
	}
	return "", errors.New("cannot tell the organization of this context's API key: run `affluent login` again")
}

// kafkaClient connects to a cluster's brokers with the Kafka API key the
// context uses for it (SASL/PLAIN).
func (s *session) kafkaClient(ctx context.Context, env, cluster string, opts ...kgo.Opt) (*kgo.Client, error) {
	kc := s.ctx.KafkaClusters[cluster]
	if kc == nil || kc.APIKey == "" || s.ctx.APIKeySecrets[kc.APIKey] == "" {
		return nil, setupError{fmt.Errorf("no Kafka API key for cluster %s: run `affluent api-key create --resource %s` then `affluent api-key use KEY`", cluster, cluster)}
	}
	secret := s.ctx.APIKeySecrets[kc.APIKey]
	if kc.BootstrapServers == "" {
		cl, err := s.client.GetCluster(ctx, env, cluster)
		if err != nil {
			return nil, err
		}
		if cl.GetStatus().GetBootstrapServers() == "" {
			return nil, fmt.Errorf("cluster %s is %s and has no bootstrap servers yet; wait until it is RUNNING", cluster, cl.GetStatus().GetPhase())
		}
		kc.Environment, kc.BootstrapServers = env, cl.GetStatus().GetBootstrapServers()
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	return kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(strings.Split(kc.BootstrapServers, ",")...),
		kgo.SASL(plain.Auth{User: kc.APIKey, Pass: secret}.AsMechanism()),
		kgo.ClientID("affluent-cli"),
		kgo.RecordDeliveryTimeout(30 * time.Second),
		kgo.RetryTimeout(30 * time.Second),
	}, opts...)...)
}

// explain turns API errors into one line that says what to do next.
func explain(err error) error {
	var e *sdk.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case codes.Unauthenticated:
		return fmt.Errorf("authentication failed: %s; the context's API key may have been deleted: run `affluent login` again", e.Message)
	case codes.PermissionDenied:
		return fmt.Errorf("permission denied: %s; ask an administrator for a role binding", e.Message)
	case codes.InvalidArgument:
		return usageError{errors.New(e.Message)}
	case codes.Unavailable:
		if e.Reason == "" {
			return fmt.Errorf("cannot reach the Affluent API: %s; is it running? `affluent context current` shows the endpoint", e.Message)
		}
		return errors.New(e.Message)
	case codes.DeadlineExceeded:
		return fmt.Errorf("the Affluent API did not answer in time: %s", e.Message)
	}
	return errors.New(e.Message)
}

// isTerminal says whether a reader or writer is a terminal (progress lines
// and hints go only there).
func isTerminal(rw any) bool {
	f, ok := rw.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress shows a spinner with a state on stderr while waiting, when
// stderr is a terminal; elsewhere it prints nothing.
type progress struct {
	w     io.Writer
	what  string
	frame int
	on    bool
}

func newProgress(w io.Writer, what string) *progress {
	return &progress{w: w, what: what, on: isTerminal(w)}
}

func (p *progress) update(state string) {
	if !p.on {
		return
	}
	frames := `|/-\`
	fmt.Fprintf(p.w, "\r\033[K%c %s: %s", frames[p.frame%len(frames)], p.what, state)
	p.frame++
}

func (p *progress) done() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
