package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/affluent-io/affluent/sdk"
)

var aclColumns = []column[*sdk.ACL]{
	{"ID", (*sdk.ACL).GetId},
	{"Principal", (*sdk.ACL).GetPrincipal},
	{"Permission", (*sdk.ACL).GetPermission},
	{"Operation", (*sdk.ACL).GetOperation},
	{"Resource Type", (*sdk.ACL).GetResourceType},
	{"Resource Name", (*sdk.ACL).GetResourceName},
	{"Pattern", (*sdk.ACL).GetPatternType},
	{"Host", (*sdk.ACL).GetHost},
}

// aclFlags name the bindings to create or the filter to list, in the style
// of the confluent CLI.
type aclFlags struct {
	sc              scope
	allow, deny     bool
	principal       string
	serviceAccount  string
	operations      []string
	topic, group    string
	transactionalID string
	clusterScope    bool
	prefix          bool
	host            string
}

func (f *aclFlags) add(a *cliApp, cmd *cobra.Command) {
	f.sc.addFlags(a, cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.allow, "allow", false, "the bindings allow")
	fl.BoolVar(&f.deny, "deny", false, "the bindings deny")
	fl.StringVar(&f.principal, "principal", "", "principal, User:<id>")
	fl.StringVar(&f.serviceAccount, "service-account", "", "service account id (sa-…), for --principal User:sa-…")
	fl.StringSliceVar(&f.operations, "operations", nil, "ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE")
	fl.StringVar(&f.topic, "topic", "", "topic name (* for every topic)")
	fl.StringVar(&f.group, "consumer-group", "", "consumer group name")
	fl.StringVar(&f.transactionalID, "transactional-id", "", "transactional id")
	fl.BoolVar(&f.clusterScope, "cluster-scope", false, "the cluster itself")
	fl.BoolVar(&f.prefix, "prefix", false, "the name is a prefix (PREFIXED pattern)")
	fl.StringVar(&f.host, "host", "", "client host (* for any)")
	cmd.MarkFlagsMutuallyExclusive("allow", "deny")
	cmd.MarkFlagsMutuallyExclusive("principal", "service-account")
	cmd.MarkFlagsMutuallyExclusive("topic", "consumer-group", "transactional-id", "cluster-scope")
}

func (f *aclFlags) resolvedPrincipal() (string, error) {
	if f.serviceAccount != "" {
		if err := checkID("service account", "sa-", f.serviceAccount); err != nil {
			return "", err
		}
		return "User:" + f.serviceAccount, nil
	}
	return f.principal, nil
}

func (f *aclFlags) resource() (typ, name string) {
	switch {
	case f.topic != "":
		return "TOPIC", f.topic
	case f.group != "":
		return "GROUP", f.group
	case f.transactionalID != "":
		return "TRANSACTIONAL_ID", f.transactionalID
	case f.clusterScope:
		return "CLUSTER", "kafka-cluster"
	}
	return "", ""
}

func (f *aclFlags) permission() string {
	switch {
	case f.allow:
		return "ALLOW"
	case f.deny:
		return "DENY"
	}
	return ""
}

func (f *aclFlags) pattern() string {
	if f.prefix {
		return "PREFIXED"
	}
	return ""
}

func newACLCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acl",
		Short: "Manage the Kafka ACLs of a cluster",
		Example: `  affluent kafka acl create --allow --service-account sa-abc123 --operations READ,DESCRIBE --topic orders
  affluent kafka acl list --service-account sa-abc123`,
		Args: cobra.NoArgs,
	}

	var cf aclFlags
	create := &cobra.Command{
		Use:   "create",
		Short: "Create ACLs: one per operation, for a principal on one resource",
		Example: `  affluent kafka acl create --allow --service-account sa-abc123 --operations READ,DESCRIBE --topic orders
  affluent kafka acl create --allow --principal User:sa-abc123 --operations READ --consumer-group billing- --prefix
  affluent kafka acl create --deny --service-account sa-abc123 --operations WRITE --topic '*'`,
		Args: cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			principal, err := cf.resolvedPrincipal()
			if err != nil {
				return err
			}
			typ, name := cf.resource()
			switch {
			case !cf.allow && !cf.deny:
				return usageError{errors.New("give --allow or --deny")}
			case principal == "":
				return usageError{errors.New("give --service-account sa-… or --principal User:…")}
			case len(cf.operations) == 0:
				return usageError{errors.New("give --operations, for example READ,DESCRIBE")}
			case typ == "":
				return usageError{errors.New("give the resource: --topic, --consumer-group, --transactional-id or --cluster-scope")}
			}
			env, cluster, err := s.cluster(cf.sc.env, cf.sc.cluster)
			if err != nil {
				return err
			}
			var created []*sdk.ACL
			for _, op := range cf.operations {
				acl, err := s.client.CreateACL(cmd.Context(), env, cluster, &sdk.ACL{
					ResourceType: typ, ResourceName: name, PatternType: cf.pattern(), Principal: principal,
					Host: cf.host, Operation: strings.ToUpper(op), Permission: cf.permission(),
				})
				if err != nil {
					return err
				}
				created = append(created, acl)
			}
			return printList(a.printer(cmd), created, aclColumns)
		}),
	}
	cf.add(a, create)

	var lf aclFlags
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the ACLs of a cluster matching the flags given",
		Example: "  affluent kafka acl list\n  affluent kafka acl list --topic orders --service-account sa-abc123",
		Args:    cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			principal, err := lf.resolvedPrincipal()
			if err != nil {
				return err
			}
			env, cluster, err := s.cluster(lf.sc.env, lf.sc.cluster)
			if err != nil {
				return err
			}
			typ, name := lf.resource()
			filter := sdk.ACLFilter{ResourceType: typ, ResourceName: name, PatternType: lf.pattern(), Principal: principal, Permission: lf.permission(), Host: lf.host}
			if len(lf.operations) > 1 {
				return usageError{errors.New("list takes at most one --operations value")}
			}
			if len(lf.operations) == 1 {
				filter.Operation = strings.ToUpper(lf.operations[0])
			}
			acls, err := sdk.Collect(s.client.ListACLs(cmd.Context(), env, cluster, filter))
			if err != nil {
				return err
			}
			return printList(a.printer(cmd), acls, aclColumns)
		}),
	}
	lf.add(a, list)

	var delSc scope
	del := &cobra.Command{
		Use:     "delete ID...",
		Short:   "Delete ACLs by id (see `affluent kafka acl list`)",
		Example: "  affluent kafka acl delete acl-1a2b3c",
		Args:    minArgs(1, "at least one ACL ID"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			env, cluster, err := s.cluster(delSc.env, delSc.cluster)
			if err != nil {
				return err
			}
			var results []deletedResult
			for _, id := range args {
				if err := s.client.DeleteACL(cmd.Context(), env, cluster, id); err != nil {
					return err
				}
				results = append(results, deleted(id))
			}
			return a.printer(cmd).message(results, "Deleted %d ACL(s).", len(results))
		}),
	}
	delSc.addFlags(a, del)

	cmd.AddCommand(create, list, del)
	return cmd
}

var quotaColumns = []column[*sdk.ClientQuota]{
	{"ID", (*sdk.ClientQuota).GetId},
	{"Name", (*sdk.ClientQuota).GetDisplayName},
	{"Principals", func(q *sdk.ClientQuota) string { return strings.Join(q.GetPrincipals(), ",") }},
	{"Ingress (bytes/s)", func(q *sdk.ClientQuota) string { return rate(q.GetIngressByteRate()) }},
	{"Egress (bytes/s)", func(q *sdk.ClientQuota) string { return rate(q.GetEgressByteRate()) }},
}

var quotaFields = []column[*sdk.ClientQuota]{
	{"ID", (*sdk.ClientQuota).GetId},
	{"Name", (*sdk.ClientQuota).GetDisplayName},
	{"Description", (*sdk.ClientQuota).GetDescription},
	{"Environment", (*sdk.ClientQuota).GetEnvironment},
	{"Cluster", (*sdk.ClientQuota).GetCluster},
	{"Principals", func(q *sdk.ClientQuota) string { return strings.Join(q.GetPrincipals(), ",") }},
	{"Ingress (bytes/s)", func(q *sdk.ClientQuota) string { return rate(q.GetIngressByteRate()) }},
	{"Egress (bytes/s)", func(q *sdk.ClientQuota) string { return rate(q.GetEgressByteRate()) }},
	{"Created", func(q *sdk.ClientQuota) string { return timestamp(q.GetCreateTime()) }},
}

func rate(v int64) string {
	if v == 0 {
		return "unlimited"
	}
	return fmt.Sprint(v)
}

// parseRate reads a byte rate: 1048576, 1MiB or 1MB.
func parseRate(flag, v string) (int64, error) {
	if v == "" || v == "0" || v == "unlimited" {
		return 0, nil
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n > 1<<62 {
		return 0, usageError{fmt.Errorf("--%s %q: want bytes per second, for example 1048576 or 1MiB", flag, v)}
	}
	return int64(n), nil
}

// principals reads --principals: User:<id> or a bare sa-/u-/pool- id.
func principals(list []string) []string {
	out := make([]string, 0, len(list))
	for _, p := range list {
		if !strings.Contains(p, ":") {
			p = "User:" + p
		}
		out = append(out, p)
	}
	return out
}

func newQuotaCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "quota",
		Aliases: []string{"client-quota"},
		Short:   "Manage client quotas: throughput limits of principals of a cluster",
		Example: `  affluent kafka quota create --name slow-apps --principals sa-abc123,sa-def456 --ingress 1MiB --egress 2MiB
  affluent kafka quota list`,
		Args: cobra.NoArgs,
	}

	var sc scope
	var name, description, ingress, egress string
	var ps []string
	create := &cobra.Command{
		Use:     "create",
		Short:   "Create a client quota",
		Example: "  affluent kafka quota create --name slow-apps --principals sa-abc123 --ingress 1048576 --egress 2MiB",
		Args:    cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			in, err := parseRate("ingress", ingress)
			if err != nil {
				return err
			}
			out, err := parseRate("egress", egress)
			if err != nil {
				return err
			}
			env, cluster, err := s.cluster(sc.env, sc.cluster)
			if err != nil {
				return err
			}
			q, err := s.client.CreateClientQuota(cmd.Context(), env, cluster, &sdk.ClientQuota{
				DisplayName: name, Description: description, Principals: principals(ps), IngressByteRate: in, EgressByteRate: out,
			})
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), q, quotaFields)
		}),
	}
	sc.addFlags(a, create)
	create.Flags().StringVar(&name, "name", "", "name of the quota, unique in the cluster")
	create.Flags().StringVar(&description, "description", "", "what the quota is for")
	create.Flags().StringSliceVar(&ps, "principals", nil, "principals it applies to: sa-… or User:…")
	create.Flags().StringVar(&ingress, "ingress", "", "produce throughput per principal, bytes/s (default unlimited)")
	create.Flags().StringVar(&egress, "egress", "", "fetch throughput per principal, bytes/s (default unlimited)")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("principals")

	var listSc scope
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the client quotas of a cluster",
		Example: "  affluent kafka quota list -o json",
		Args:    cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			env, cluster, err := s.cluster(listSc.env, listSc.cluster)
			if err != nil {
				return err
			}
			qs, err := sdk.Collect(s.client.ListClientQuotas(cmd.Context(), env, cluster))
			if err != nil {
				return err
			}
			return printList(a.printer(cmd), qs, quotaColumns)
		}),
	}
	listSc.addFlags(a, list)

	var descSc scope
	describe := &cobra.Command{
		Use:     "describe ID",
		Short:   "Show a client quota",
		Example: "  affluent kafka quota describe cq-abc123",
		Args:    exactArgs(1, "ID"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("client quota", "cq-", args[0]); err != nil {
				return err
			}
			env, cluster, err := s.cluster(descSc.env, descSc.cluster)
			if err != nil {
				return err
			}
			q, err := s.client.GetClientQuota(cmd.Context(), env, cluster, args[0])
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), q, quotaFields)
		}),
	}
	descSc.addFlags(a, describe)

	var updSc scope
	var uName, uDescription, uIngress, uEgress string
	var uPrincipals []string
	update := &cobra.Command{
		Use:     "update ID",
		Short:   "Change a client quota's name, principals or rates",
		Example: "  affluent kafka quota update cq-abc123 --ingress 4MiB --principals sa-abc123,sa-xyz789",
		Args:    exactArgs(1, "ID"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("client quota", "cq-", args[0]); err != nil {
				return err
			}
			in, err := parseRate("ingress", uIngress)
			if err != nil {
				return err
			}
			out, err := parseRate("egress", uEgress)
			if err != nil {
				return err
			}
			paths := changed(cmd, map[string]string{"name": "display_name", "description": "description",
				"principals": "principals", "ingress": "ingress_byte_rate", "egress": "egress_byte_rate"})
			if len(paths) == 0 {
				return usageError{errors.New("nothing to update: give --name, --description, --principals, --ingress or --egress")}
			}
			env, cluster, err := s.cluster(updSc.env, updSc.cluster)
			if err != nil {
				return err
			}
			q, err := s.client.UpdateClientQuota(cmd.Context(), env, cluster, &sdk.ClientQuota{Id: args[0], DisplayName: uName,
				Description: uDescription, Principals: principals(uPrincipals), IngressByteRate: in, EgressByteRate: out}, paths...)
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), q, quotaFields)
		}),
	}
	updSc.addFlags(a, update)
	update.Flags().StringVar(&uName, "name", "", "new name")
	update.Flags().StringVar(&uDescription, "description", "", "new description")
	update.Flags().StringSliceVar(&uPrincipals, "principals", nil, "the principals it applies to (replaces the list)")
	update.Flags().StringVar(&uIngress, "ingress", "", "produce throughput per principal, bytes/s (0: unlimited)")
	update.Flags().StringVar(&uEgress, "egress", "", "fetch throughput per principal, bytes/s (0: unlimited)")

	var delSc scope
	del := &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a client quota (its principals become unlimited)",
		Example: "  affluent kafka quota delete cq-abc123",
		Args:    exactArgs(1, "ID"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("client quota", "cq-", args[0]); err != nil {
				return err
			}
			env, cluster, err := s.cluster(delSc.env, delSc.cluster)
			if err != nil {
				return err
			}
			if err := s.client.DeleteClientQuota(cmd.Context(), env, cluster, args[0]); err != nil {
				return err
			}
			return a.printer(cmd).message(deleted(args[0]), "Deleted client quota %q.", args[0])
		}),
	}
	delSc.addFlags(a, del)

	cmd.AddCommand(create, list, describe, update, del)
	return cmd
}
