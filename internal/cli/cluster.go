package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/affluent-io/affluent/sdk"
)

func newKafkaCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kafka",
		Short: "Manage Kafka clusters, topics, ACLs, quotas and consumer groups",
		Example: `  affluent kafka cluster create orders --environment env-abc123
  affluent kafka topic create payments --partitions 6`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newClusterCommand(a), newTopicCommand(a), newACLCommand(a), newQuotaCommand(a), newGroupCommand(a))
	return cmd
}

// scope is the --environment and --cluster of a command; empty values
// default from the context.
type scope struct{ env, cluster string }

func (sc *scope) addEnvFlag(a *cliApp, cmd *cobra.Command) {
	cmd.Flags().StringVar(&sc.env, "environment", "", "environment id, env-… (default: the context's)")
	_ = cmd.RegisterFlagCompletionFunc("environment", a.completeEnvironments)
}

func (sc *scope) addFlags(a *cliApp, cmd *cobra.Command) {
	sc.addEnvFlag(a, cmd)
	cmd.Flags().StringVar(&sc.cluster, "cluster", "", "cluster id, lkc-… (default: the context's)")
	_ = cmd.RegisterFlagCompletionFunc("cluster", a.completeClusters)
}

func clusterColumns(current string) []column[*sdk.Cluster] {
	return []column[*sdk.Cluster]{
		{"Current", func(c *sdk.Cluster) string {
			if c.GetId() == current {
				return "*"
			}
			return " "
		}},
		{"ID", (*sdk.Cluster).GetId},
		{"Name", (*sdk.Cluster).GetDisplayName},
		{"Type", func(c *sdk.Cluster) string { return c.GetSpec().GetType() }},
		{"Plan", func(c *sdk.Cluster) string { return c.GetSpec().GetPlan() }},
		{"Region", func(c *sdk.Cluster) string { return c.GetSpec().GetCloud() + "/" + c.GetSpec().GetRegion() }},
		{"Phase", func(c *sdk.Cluster) string { return c.GetStatus().GetPhase() }},
	}
}

func itoa[T int32 | int64](v T) string { return strconv.FormatInt(int64(v), 10) }

var clusterFields = []column[*sdk.Cluster]{
	{"ID", (*sdk.Cluster).GetId},
	{"Name", (*sdk.Cluster).GetDisplayName},
	{"Environment", (*sdk.Cluster).GetEnvironment},
	{"Type", func(c *sdk.Cluster) string { return c.GetSpec().GetType() }},
	{"Cloud", func(c *sdk.Cluster) string { return c.GetSpec().GetCloud() }},
	{"Region", func(c *sdk.Cluster) string { return c.GetSpec().GetRegion() }},
	{"Plan", func(c *sdk.Cluster) string { return c.GetSpec().GetPlan() }},
	{"Brokers", brokersField},
	{"Phase", func(c *sdk.Cluster) string { return c.GetStatus().GetPhase() }},
	{"Bootstrap Servers", func(c *sdk.Cluster) string { return c.GetStatus().GetBootstrapServers() }},
	{"REST Endpoint", func(c *sdk.Cluster) string { return c.GetStatus().GetRestEndpoint() }},
	{"Operation", func(c *sdk.Cluster) string { return c.GetStatus().GetOperationId() }},
	{"Message", func(c *sdk.Cluster) string { return c.GetStatus().GetMessage() }},
	{"Ingress (bytes/s)", func(c *sdk.Cluster) string { return itoa(c.GetSpec().GetLimits().GetIngressByteRate()) }},
	{"Egress (bytes/s)", func(c *sdk.Cluster) string { return itoa(c.GetSpec().GetLimits().GetEgressByteRate()) }},
	{"Max Partitions", func(c *sdk.Cluster) string { return itoa(c.GetSpec().GetLimits().GetMaxPartitions()) }},
	{"Max Storage (bytes)", func(c *sdk.Cluster) string { return itoa(c.GetSpec().GetLimits().GetMaxStorageBytes()) }},
	{"Max Connections", func(c *sdk.Cluster) string { return itoa(c.GetSpec().GetLimits().GetMaxConnections()) }},
	{"Max Message (bytes)", func(c *sdk.Cluster) string { return itoa(c.GetSpec().GetLimits().GetMaxMessageBytes()) }},
	{"Max Request Rate", func(c *sdk.Cluster) string { return itoa(c.GetSpec().GetLimits().GetMaxRequestRate()) }},
	{"Max Conn Attempts", func(c *sdk.Cluster) string {
		return itoa(c.GetSpec().GetLimits().GetMaxConnectionAttemptRate())
	}},
	{"Created", func(c *sdk.Cluster) string { return timestamp(c.GetCreateTime()) }},
}

// brokersField is a DEDICATED cluster's broker count, with the count
// running when a resize is under way; empty for SERVERLESS.
func brokersField(c *sdk.Cluster) string {
	asked, running := c.GetSpec().GetBrokers(), c.GetStatus().GetBrokers()
	if asked == 0 {
		return ""
	}
	return fmt.Sprintf("%d (%d running)", asked, running)
}

// limitFlags are the cluster limits settable on create and update.
type limitFlags struct {
	limits sdk.ClusterLimits
}

var limitPaths = map[string]string{
	"ingress-byte-rate": "spec.limits.ingress_byte_rate", "egress-byte-rate": "spec.limits.egress_byte_rate",
	"max-partitions": "spec.limits.max_partitions", "max-storage-bytes": "spec.limits.max_storage_bytes",
	"max-connections": "spec.limits.max_connections", "max-message-bytes": "spec.limits.max_message_bytes",
	"max-request-rate": "spec.limits.max_request_rate", "max-connection-attempt-rate": "spec.limits.max_connection_attempt_rate",
}

func (l *limitFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Int64Var(&l.limits.IngressByteRate, "ingress-byte-rate", 0, "produce throughput limit, bytes/s (default: the plan's)")
	f.Int64Var(&l.limits.EgressByteRate, "egress-byte-rate", 0, "fetch throughput limit, bytes/s")
	f.Int32Var(&l.limits.MaxPartitions, "max-partitions", 0, "partitions over all topics")
	f.Int64Var(&l.limits.MaxStorageBytes, "max-storage-bytes", 0, "retained bytes over all topics")
	f.Int32Var(&l.limits.MaxConnections, "max-connections", 0, "concurrent client connections")
	f.Int32Var(&l.limits.MaxMessageBytes, "max-message-bytes", 0, "largest record batch")
	f.Int32Var(&l.limits.MaxRequestRate, "max-request-rate", 0, "requests per second")
	f.Int32Var(&l.limits.MaxConnectionAttemptRate, "max-connection-attempt-rate", 0, "new connections per second")
}

func newClusterCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Manage Kafka clusters",
		Example: `  affluent kafka cluster create orders
  affluent kafka cluster use lkc-abc123`,
		Args: cobra.NoArgs,
	}

	var sc scope
	var spec sdk.ClusterSpec
	var lim limitFlags
	var noWait bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a cluster and wait until it is RUNNING",
		Long: `Create a cluster in the environment and wait until it is RUNNING (a progress line
shows on a terminal), unless --no-wait. A serverless cluster is ready in well
under a second.`,
		Example: `  affluent kafka cluster create orders
  affluent kafka cluster create analytics --plan STANDARD --ingress-byte-rate 10485760
  affluent kafka cluster create payments --type DEDICATED --brokers 3
  CLUSTER=$(affluent kafka cluster create orders -o json | jq -r .id)`,
		Args: exactArgs(1, "NAME"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			env, err := s.environment(sc.env)
			if err != nil {
				return err
			}
			spec.Limits = &lim.limits
			cl, err := s.client.CreateCluster(cmd.Context(), env, &sdk.Cluster{DisplayName: args[0], Spec: &spec})
			if err != nil {
				return err
			}
			if !noWait {
				bar := newProgress(a.stderr, "creating cluster "+cl.GetId())
				cl, err = s.client.WaitClusterRunning(cmd.Context(), env, cl.GetId(), sdk.OnProgress(bar.update))
				bar.done()
				if err != nil {
					return err
				}
				kc := s.ctx.kafka(cl.GetId())
				kc.Environment, kc.BootstrapServers = env, cl.GetStatus().GetBootstrapServers()
				if err := s.save(); err != nil {
					return err
				}
			}
			return printOne(a.printer(cmd), cl, clusterFields)
		}),
	}
	sc.addEnvFlag(a, create)
	create.Flags().StringVar(&spec.Type, "type", "", "SERVERLESS (default) or DEDICATED")
	create.Flags().StringVar(&spec.Cloud, "cloud", "", "LOCAL (default), AWS, GCP or AZURE")
	create.Flags().StringVar(&spec.Region, "region", "", "region of the cloud (default local)")
	create.Flags().StringVar(&spec.Plan, "plan", "", "BASIC (default), STANDARD or ENTERPRISE")
	create.Flags().Int32Var(&spec.Brokers, "brokers", 0, "brokers of a DEDICATED cluster, 1 to 32 (required with --type DEDICATED)")
	create.Flags().BoolVar(&noWait, "no-wait", false, "return at once, with the cluster PROVISIONING")
	lim.add(create)

	var listSc scope
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the clusters of an environment; * marks the context's",
		Example: "  affluent kafka cluster list --environment env-abc123",
		Args:    cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			env, err := s.environment(listSc.env)
			if err != nil {
				return err
			}
			cls, err := sdk.Collect(s.client.ListClusters(cmd.Context(), env, sdk.ClusterFilter{}))
			if err != nil {
				return err
			}
			return printList(a.printer(cmd), cls, clusterColumns(s.ctx.Cluster))
		}),
	}
	listSc.addEnvFlag(a, list)

	var descSc scope
	describe := &cobra.Command{
		Use:               "describe [ID]",
		Short:             "Show a cluster (the context's by default): status, bootstrap servers, limits",
		Example:           "  affluent kafka cluster describe lkc-abc123\n  affluent kafka cluster describe -o json | jq -r .status.bootstrap_servers",
		Args:              maxArgs(1, "ID"),
		ValidArgsFunction: a.completeClusters,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			env, id, err := s.cluster(descSc.env, firstArg(args))
			if err != nil {
				return err
			}
			cl, err := s.client.GetCluster(cmd.Context(), env, id)
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), cl, clusterFields)
		}),
	}
	descSc.addEnvFlag(a, describe)

	var updSc scope
	var newName, newPlan string
	var newBrokers int32
	var updNoWait bool
	var updLim limitFlags
	update := &cobra.Command{
		Use:   "update ID",
		Short: "Rename a cluster, change its plan or its limits, or resize a DEDICATED one",
		Long: `Rename a cluster, change its plan or its limits, or give a DEDICATED cluster another
number of brokers (--brokers): the cluster keeps serving while brokers are added or
removed one at a time, and the command waits until the resize is done, unless --no-wait.`,
		Example:           "  affluent kafka cluster update lkc-abc123 --name orders-eu --plan STANDARD\n  affluent kafka cluster update lkc-abc123 --brokers 3",
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: a.completeClusters,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			env, id, err := s.cluster(updSc.env, args[0])
			if err != nil {
				return err
			}
			m := map[string]string{"name": "display_name", "plan": "spec.plan", "brokers": "spec.brokers"}
			for k, v := range limitPaths {
				m[k] = v
			}
			paths := changed(cmd, m)
			if len(paths) == 0 {
				return usageError{errors.New("nothing to update: give --name, --plan, --brokers or a limit")}
			}
			cl := &sdk.Cluster{Id: id, DisplayName: newName, Spec: &sdk.ClusterSpec{Plan: newPlan, Brokers: newBrokers, Limits: &updLim.limits}}
			if cl, err = s.client.UpdateCluster(cmd.Context(), env, cl, paths...); err != nil {
				return err
			}
			if cmd.Flags().Changed("brokers") && !updNoWait {
				if cl, err = waitResize(cmd.Context(), a, s, env, cl); err != nil {
					return err
				}
			}
			return printOne(a.printer(cmd), cl, clusterFields)
		}),
	}
	updSc.addEnvFlag(a, update)
	update.Flags().StringVar(&newName, "name", "", "new name")
	update.Flags().StringVar(&newPlan, "plan", "", "BASIC, STANDARD or ENTERPRISE")
	update.Flags().Int32Var(&newBrokers, "brokers", 0, "resize a DEDICATED cluster to this many brokers, 1 to 32")
	update.Flags().BoolVar(&updNoWait, "no-wait", false, "with --brokers: return at once, while the resize runs")
	updLim.add(update)

	var delSc scope
	var delNoWait bool
	del := &cobra.Command{
		Use:               "delete ID",
		Short:             "Delete a cluster with its topics and data, and wait until it is gone",
		Example:           "  affluent kafka cluster delete lkc-abc123",
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: a.completeClusters,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			env, id, err := s.cluster(delSc.env, args[0])
			if err != nil {
				return err
			}
			if _, err := s.client.DeleteCluster(cmd.Context(), env, id); err != nil {
				return err
			}
			if !delNoWait {
				bar := newProgress(a.stderr, "deleting cluster "+id)
				err := s.client.WaitClusterDeleted(cmd.Context(), env, id, sdk.OnProgress(bar.update))
				bar.done()
				if err != nil {
					return err
				}
			}
			delete(s.ctx.KafkaClusters, id)
			if s.ctx.Cluster == id {
				s.ctx.Cluster = ""
			}
			if err := s.save(); err != nil {
				return err
			}
			return a.printer(cmd).message(deleted(id), "Deleted cluster %q.", id)
		}),
	}
	delSc.addEnvFlag(a, del)
	del.Flags().BoolVar(&delNoWait, "no-wait", false, "return at once, with the cluster DELETING")

	var useSc scope
	use := &cobra.Command{
		Use:               "use ID",
		Short:             "Make a cluster the context's default (--cluster) and its environment too",
		Example:           "  affluent kafka cluster use lkc-abc123",
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: a.completeClusters,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("cluster", "lkc-", args[0]); err != nil {
				return err
			}
			cl, err := s.findCluster(cmd.Context(), useSc.env, args[0])
			if err != nil {
				return err
			}
			s.ctx.Environment, s.ctx.Cluster = cl.GetEnvironment(), cl.GetId()
			kc := s.ctx.kafka(cl.GetId())
			kc.Environment = cl.GetEnvironment()
			if b := cl.GetStatus().GetBootstrapServers(); b != "" {
				kc.BootstrapServers = b
			}
			if err := s.save(); err != nil {
				return err
			}
			return a.printer(cmd).message(map[string]string{"environment": cl.GetEnvironment(), "cluster": cl.GetId()},
				"Using cluster %q (%s) of environment %q.", cl.GetId(), cl.GetDisplayName(), cl.GetEnvironment())
		}),
	}
	useSc.addEnvFlag(a, use)

	cmd.AddCommand(create, list, describe, update, del, use, newClusterUsageCommand(a))
	return cmd
}

// findCluster reads a cluster given its id only: in envFlag or the
// context's environment, else in whichever environment holds it.
func (s *session) findCluster(ctx context.Context, envFlag, id string) (*sdk.Cluster, error) {
	env := envFlag
	if env == "" {
		env = s.ctx.Environment
	}
	if env != "" {
		if err := checkID("environment", "env-", env); err != nil {
			return nil, err
		}
		cl, err := s.client.GetCluster(ctx, env, id)
		if err == nil || envFlag != "" || !errors.Is(err, sdk.ErrNotFound) {
			return cl, err
		}
	}
	for e, err := range s.client.ListEnvironments(ctx, sdk.EnvironmentFilter{}) {
		if err != nil {
			return nil, err
		}
		if cl, err := s.client.GetCluster(ctx, e.GetId(), id); err == nil {
			return cl, nil
		}
	}
	return nil, fmt.Errorf("cluster %q not found in any environment", id)
}

func (a *cliApp) completeClusters(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	s, err := a.session(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	defer s.client.Close()
	envFlag, _ := cmd.Flags().GetString("environment")
	env, err := s.environment(envFlag)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []string
	for cl, err := range s.client.ListClusters(cmd.Context(), env, sdk.ClusterFilter{}) {
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		out = append(out, cl.GetId()+"\t"+cl.GetDisplayName())
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// waitResize waits for the resize operation of cl to end, and records the
// new bootstrap servers in the context when it knows the cluster.
func waitResize(ctx context.Context, a *cliApp, s *session, env string, cl *sdk.Cluster) (*sdk.Cluster, error) {
	bar := newProgress(a.stderr, fmt.Sprintf("resizing cluster %s to %d brokers", cl.GetId(), cl.GetSpec().GetBrokers()))
	_, err := s.client.WaitOperation(ctx, cl.GetStatus().GetOperationId(), sdk.OnProgress(bar.update))
	bar.done()
	if err != nil {
		return nil, err
	}
	if cl, err = s.client.GetCluster(ctx, env, cl.GetId()); err != nil {
		return nil, err
	}
	if kc, ok := s.ctx.KafkaClusters[cl.GetId()]; ok && cl.GetStatus().GetBootstrapServers() != "" {
		kc.BootstrapServers = cl.GetStatus().GetBootstrapServers()
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	return cl, nil
}
