package cli

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/affluent-io/affluent/sdk"
)

var environmentColumns = []column[*sdk.Environment]{
	{"ID", (*sdk.Environment).GetId},
	{"Name", (*sdk.Environment).GetDisplayName},
	{"Description", (*sdk.Environment).GetDescription},
}

var environmentFields = append(environmentColumns[:3:3],
	column[*sdk.Environment]{"Created", func(e *sdk.Environment) string { return timestamp(e.GetCreateTime()) }},
	column[*sdk.Environment]{"Updated", func(e *sdk.Environment) string { return timestamp(e.GetUpdateTime()) }},
)

func newEnvironmentCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "environment",
		Aliases: []string{"env"},
		Short:   "Manage environments, the groups of clusters of an organization",
		Example: `  affluent environment create staging
  affluent environment use env-abc123`,
		Args: cobra.NoArgs,
	}
	var description string
	create := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create an environment",
		Example: "  affluent environment create staging --description 'pre-production'\n  ENV=$(affluent environment create staging -o json | jq -r .id)",
		Args:    exactArgs(1, "NAME"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			env, err := s.client.CreateEnvironment(cmd.Context(), &sdk.Environment{DisplayName: args[0], Description: description})
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), env, environmentFields)
		}),
	}
	create.Flags().StringVar(&description, "description", "", "what the environment is for")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List environments",
		Example: "  affluent environment list\n  affluent environment list -o json | jq -r '.[].id'",
		Args:    cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			envs, err := sdk.Collect(s.client.ListEnvironments(cmd.Context(), sdk.EnvironmentFilter{}))
			if err != nil {
				return err
			}
			return printList(a.printer(cmd), envs, environmentColumns)
		}),
	}

	describe := &cobra.Command{
		Use:               "describe [ID]",
		Short:             "Show an environment (the context's by default)",
		Example:           "  affluent environment describe env-abc123",
		Args:              maxArgs(1, "ID"),
		ValidArgsFunction: a.completeEnvironments,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			id, err := s.environment(firstArg(args))
			if err != nil {
				return err
			}
			env, err := s.client.GetEnvironment(cmd.Context(), id)
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), env, environmentFields)
		}),
	}

	var name, newDescription string
	update := &cobra.Command{
		Use:               "update ID",
		Short:             "Rename an environment or change its description",
		Example:           "  affluent environment update env-abc123 --name prod --description 'customer-facing'",
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: a.completeEnvironments,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("environment", "env-", args[0]); err != nil {
				return err
			}
			env := &sdk.Environment{Id: args[0], DisplayName: name, Description: newDescription}
			paths := changed(cmd, map[string]string{"name": "display_name", "description": "description"})
			if len(paths) == 0 {
				return usageError{errors.New("nothing to update: give --name or --description")}
			}
			env, err := s.client.UpdateEnvironment(cmd.Context(), env, paths...)
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), env, environmentFields)
		}),
	}
	update.Flags().StringVar(&name, "name", "", "new name")
	update.Flags().StringVar(&newDescription, "description", "", "new description")

	del := &cobra.Command{
		Use:               "delete ID",
		Short:             "Delete an environment (it must hold no clusters)",
		Example:           "  affluent environment delete env-abc123",
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: a.completeEnvironments,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("environment", "env-", args[0]); err != nil {
				return err
			}
			if err := s.client.DeleteEnvironment(cmd.Context(), args[0]); err != nil {
				return err
			}
			if s.ctx.Environment == args[0] {
				s.ctx.Environment, s.ctx.Cluster = "", ""
				if err := s.save(); err != nil {
					return err
				}
			}
			return a.printer(cmd).message(deleted(args[0]), "Deleted environment %q.", args[0])
		}),
	}

	use := &cobra.Command{
		Use:               "use ID",
		Short:             "Make an environment the context's default (--environment)",
		Example:           "  affluent environment use env-abc123",
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: a.completeEnvironments,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkID("environment", "env-", args[0]); err != nil {
				return err
			}
			env, err := s.client.GetEnvironment(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if s.ctx.Environment != env.GetId() {
				s.ctx.Environment, s.ctx.Cluster = env.GetId(), ""
			}
			if err := s.save(); err != nil {
				return err
			}
			return a.printer(cmd).message(map[string]string{"environment": env.GetId()}, "Using environment %q (%s).", env.GetId(), env.GetDisplayName())
		}),
	}
	cmd.AddCommand(create, list, describe, update, del, use)
	return cmd
}

// deletedResult is what delete commands print in JSON and YAML.
type deletedResult struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

func deleted(id string) deletedResult { return deletedResult{ID: id, Deleted: true} }

func firstArg(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return ""
}

// changed maps the flags the user set to update-mask paths.
func changed(cmd *cobra.Command, flagToPath map[string]string) []string {
	var paths []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if p, ok := flagToPath[f.Name]; ok {
			paths = append(paths, p)
		}
	})
	return paths
}

func (a *cliApp) completeEnvironments(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	s, err := a.session(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	defer s.client.Close()
	var out []string
	for env, err := range s.client.ListEnvironments(cmd.Context(), sdk.EnvironmentFilter{}) {
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		out = append(out, env.GetId()+"\t"+env.GetDisplayName())
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
