package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/affluent-io/affluent/sdk"
)

var serviceAccountColumns = []column[*sdk.ServiceAccount]{
	{"ID", (*sdk.ServiceAccount).GetId},
	{"Name", (*sdk.ServiceAccount).GetDisplayName},
	{"Description", (*sdk.ServiceAccount).GetDescription},
}

var serviceAccountFields = []column[*sdk.ServiceAccount]{
	{"ID", (*sdk.ServiceAccount).GetId},
	{"Name", (*sdk.ServiceAccount).GetDisplayName},
	{"Description", (*sdk.ServiceAccount).GetDescription},
	{"Principal", (*sdk.ServiceAccount).GetPrincipal},
	{"Created", func(s *sdk.ServiceAccount) string { return timestamp(s.GetCreateTime()) }},
}

var roleBindingColumns = []column[*sdk.RoleBinding]{
	{"ID", (*sdk.RoleBinding).GetId},
	{"Principal", (*sdk.RoleBinding).GetPrincipal},
	{"Role", (*sdk.RoleBinding).GetRoleName},
	{"CRN Pattern", (*sdk.RoleBinding).GetCrnPattern},
}

var roleBindingFields = append(roleBindingColumns[:4:4],
	column[*sdk.RoleBinding]{"Created", func(r *sdk.RoleBinding) string { return timestamp(r.GetCreateTime()) }})

func newIAMCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "iam",
		Short: "Manage identities and access: service accounts and role bindings",
		Example: `  affluent iam service-account create orders-app
  affluent iam rbac role-binding create --principal User:sa-abc123 --role DeveloperWrite --resource Topic:orders`,
		Args: cobra.NoArgs,
	}
	rbac := &cobra.Command{
		Use:     "rbac",
		Short:   "Manage role-based access control",
		Example: "  affluent iam rbac role-binding list --principal User:sa-abc123",
		Args:    cobra.NoArgs,
	}
	rbac.AddCommand(newRoleBindingCommand(a))
	cmd.AddCommand(newServiceAccountCommand(a), rbac)
	return cmd
}

func newServiceAccountCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "service-account",
		Aliases: []string{"sa"},
		Short:   "Manage service accounts, the identities of applications",
		Example: `  affluent iam service-account create orders-app --description 'the order service'
  affluent iam service-account list`,
		Args: cobra.NoArgs,
	}
	var description string
	create := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a service account",
		Example: "  affluent iam service-account create orders-app\n  SA=$(affluent iam service-account create orders-app -o json | jq -r .id)",
		Args:    exactArgs(1, "NAME"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			sa, err := s.client.CreateServiceAccount(cmd.Context(), &sdk.ServiceAccount{DisplayName: args[0], Description: description})
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), sa, serviceAccountFields)
		}),
	}
	create.Flags().StringVar(&description, "description", "", "what the account is for")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List service accounts",
		Example: "  affluent iam service-account list -o yaml",
		Args:    cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			sas, err := sdk.Collect(s.client.ListServiceAccounts(cmd.Context(), sdk.ServiceAccountFilter{}))
			if err != nil {
				return err
			}
			return printList(a.printer(cmd), sas, serviceAccountColumns)
		}),
	}

	describe := &cobra.Command{
		Use:     "describe ID",
		Short:   "Show a service account",
		Example: "  affluent iam service-account describe sa-abc123",
		Args:    exactArgs(1, "ID"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("service account", "sa-", args[0]); err != nil {
				return err
			}
			sa, err := s.client.GetServiceAccount(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), sa, serviceAccountFields)
		}),
	}

	var name, newDescription string
	update := &cobra.Command{
		Use:     "update ID",
		Short:   "Rename a service account or change its description",
		Example: "  affluent iam service-account update sa-abc123 --description 'orders, v2'",
		Args:    exactArgs(1, "ID"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("service account", "sa-", args[0]); err != nil {
				return err
			}
			paths := changed(cmd, map[string]string{"name": "display_name", "description": "description"})
			if len(paths) == 0 {
				return usageError{errors.New("nothing to update: give --name or --description")}
			}
			sa, err := s.client.UpdateServiceAccount(cmd.Context(), &sdk.ServiceAccount{Id: args[0], DisplayName: name, Description: newDescription}, paths...)
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), sa, serviceAccountFields)
		}),
	}
	update.Flags().StringVar(&name, "name", "", "new name")
	update.Flags().StringVar(&newDescription, "description", "", "new description")

	del := &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a service account",
		Example: "  affluent iam service-account delete sa-abc123",
		Args:    exactArgs(1, "ID"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("service account", "sa-", args[0]); err != nil {
				return err
			}
			if err := s.client.DeleteServiceAccount(cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.printer(cmd).message(deleted(args[0]), "Deleted service account %q.", args[0])
		}),
	}
	cmd.AddCommand(create, list, describe, update, del)
	return cmd
}

// crnFlags build a role binding's CRN pattern the way the confluent CLI's
// flags do.
type crnFlags struct {
	pattern      string
	environment  string
	cloudCluster string
	kafkaCluster string
	resource     string
	prefix       bool
}

func (f *crnFlags) add(a *cliApp, cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.pattern, "crn-pattern", "", "the CRN pattern itself (instead of the flags below)")
	fl.StringVar(&f.environment, "environment", "", "scope: an environment (env-…)")
	fl.StringVar(&f.cloudCluster, "cloud-cluster", "", "scope: a cluster (lkc-…), as a cloud resource")
	fl.StringVar(&f.kafkaCluster, "kafka-cluster", "", "scope: a cluster (lkc-…), as a Kafka cluster (for --resource)")
	fl.StringVar(&f.resource, "resource", "", "scope: Topic:NAME, Group:NAME or Transactional-Id:NAME in the cluster (default: the context's)")
	fl.BoolVar(&f.prefix, "prefix", false, "the --resource name is a prefix")
	_ = cmd.RegisterFlagCompletionFunc("environment", a.completeEnvironments)
	cmd.MarkFlagsMutuallyExclusive("crn-pattern", "environment")
	cmd.MarkFlagsMutuallyExclusive("crn-pattern", "cloud-cluster")
	cmd.MarkFlagsMutuallyExclusive("crn-pattern", "kafka-cluster")
	cmd.MarkFlagsMutuallyExclusive("crn-pattern", "resource")
}

var resourceTypes = map[string]string{
	"topic": "topic", "group": "group", "consumer-group": "group",
	"transactional-id": "transactional-id", "transactionalid": "transactional-id",
}

// build returns the CRN pattern, or "" when no scope flag was given and
// required is false.
func (f *crnFlags) build(ctx context.Context, s *session, required bool) (string, error) {
	if f.pattern != "" {
		return f.pattern, nil
	}
	if f.prefix && f.resource == "" {
		return "", usageError{errors.New("--prefix goes with --resource")}
	}
	cluster := f.cloudCluster
	if cluster == "" {
		cluster = f.kafkaCluster
	}
	if f.cloudCluster != "" && f.kafkaCluster != "" && f.cloudCluster != f.kafkaCluster {
		return "", usageError{errors.New("--cloud-cluster and --kafka-cluster name different clusters")}
	}
	env := f.environment
	if f.resource != "" || cluster != "" {
		var err error
		if cluster == "" && f.resource != "" {
			if env, cluster, err = s.cluster(env, ""); err != nil {
				return "", err
			}
		} else if env, cluster, err = s.cluster(env, cluster); err != nil {
			return "", err
		}
	}
	if env == "" && cluster == "" && !required {
		return "", nil
	}
	if env != "" {
		if err := checkID("environment", "env-", env); err != nil {
			return "", err
		}
	}
	org, err := s.organization(ctx)
	if err != nil {
		return "", err
	}
	crn := "crn://affluent/organization=" + org
	if env != "" {
		crn += "/environment=" + env
	}
	if cluster != "" {
		crn += "/cloud-cluster=" + cluster
		if f.kafkaCluster != "" || f.resource != "" {
			crn += "/kafka=" + cluster
		}
	}
	if f.resource != "" {
		typ, name, ok := strings.Cut(f.resource, ":")
		seg, known := resourceTypes[strings.ToLower(typ)]
		if !ok || !known || name == "" {
			return "", usageError{fmt.Errorf("--resource %q: want Topic:NAME, Group:NAME or Transactional-Id:NAME", f.resource)}
		}
		if f.prefix {
			name += "*"
		}
		crn += "/" + seg + "=" + name
	}
	return crn, nil
}

func newRoleBindingCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "role-binding",
		Short: "Grant roles to principals on resources",
		Long: `Grant a role (OrganizationAdmin, EnvironmentAdmin, CloudClusterAdmin, Operator,
MetricsViewer, ResourceOwner, DeveloperRead, DeveloperWrite, DeveloperManage) to a
principal on the resources a CRN pattern covers. The pattern is the organization
by default, narrowed by --environment, --cloud-cluster and --resource (or given
whole with --crn-pattern).`,
		Example: `  affluent iam rbac role-binding create --principal User:sa-abc123 --role DeveloperRead --resource Topic:orders
  affluent iam rbac role-binding create --principal User:sa-abc123 --role EnvironmentAdmin --environment env-abc123`,
		Args: cobra.NoArgs,
	}

	var principal, role string
	var cf crnFlags
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a role binding",
		Example: `  affluent iam rbac role-binding create --principal User:sa-abc123 --role OrganizationAdmin
  affluent iam rbac role-binding create --principal User:sa-abc123 --role CloudClusterAdmin --environment env-abc123 --cloud-cluster lkc-abc123
  affluent iam rbac role-binding create --principal User:sa-abc123 --role DeveloperWrite --resource Topic:orders- --prefix -o json`,
		Args: cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			crn, err := cf.build(cmd.Context(), s, true)
			if err != nil {
				return err
			}
			rb, err := s.client.CreateRoleBinding(cmd.Context(), &sdk.RoleBinding{Principal: principal, RoleName: role, CrnPattern: crn})
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), rb, roleBindingFields)
		}),
	}
	create.Flags().StringVar(&principal, "principal", "", "principal, User:<id>")
	create.Flags().StringVar(&role, "role", "", "role name, for example DeveloperRead")
	_ = create.MarkFlagRequired("principal")
	_ = create.MarkFlagRequired("role")
	cf.add(a, create)

	var lPrincipal, lRole string
	var lf crnFlags
	list := &cobra.Command{
		Use:     "list",
		Short:   "List role bindings, by principal, role or scope",
		Example: "  affluent iam rbac role-binding list --principal User:sa-abc123\n  affluent iam rbac role-binding list --environment env-abc123 -o json",
		Args:    cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			crn, err := lf.build(cmd.Context(), s, false)
			if err != nil {
				return err
			}
			rbs, err := sdk.Collect(s.client.ListRoleBindings(cmd.Context(), sdk.RoleBindingFilter{Principal: lPrincipal, RoleName: lRole, CRNPattern: crn}))
			if err != nil {
				return err
			}
			return printList(a.printer(cmd), rbs, roleBindingColumns)
		}),
	}
	list.Flags().StringVar(&lPrincipal, "principal", "", "only bindings of this principal")
	list.Flags().StringVar(&lRole, "role", "", "only bindings of this role")
	lf.add(a, list)

	describe := &cobra.Command{
		Use:     "describe ID",
		Short:   "Show a role binding",
		Example: "  affluent iam rbac role-binding describe rb-abc123",
		Args:    exactArgs(1, "ID"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("role binding", "rb-", args[0]); err != nil {
				return err
			}
			rb, err := s.client.GetRoleBinding(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), rb, roleBindingFields)
		}),
	}

	del := &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a role binding",
		Example: "  affluent iam rbac role-binding delete rb-abc123",
		Args:    exactArgs(1, "ID"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("role binding", "rb-", args[0]); err != nil {
				return err
			}
			if err := s.client.DeleteRoleBinding(cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.printer(cmd).message(deleted(args[0]), "Deleted role binding %q.", args[0])
		}),
	}
	cmd.AddCommand(create, list, describe, del)
	return cmd
}
