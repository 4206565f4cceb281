package cli

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/affluent-io/affluent/sdk"
)

var apiKeyColumns = []column[*sdk.APIKey]{
	{"Key", (*sdk.APIKey).GetId},
	{"Name", (*sdk.APIKey).GetDisplayName},
	{"Owner", (*sdk.APIKey).GetOwner},
	{"Resource", (*sdk.APIKey).GetResource},
	{"Created", func(k *sdk.APIKey) string { return timestamp(k.GetCreateTime()) }},
}

var apiKeyFields = []column[*sdk.APIKey]{
	{"API Key", (*sdk.APIKey).GetId},
	{"Name", (*sdk.APIKey).GetDisplayName},
	{"Description", (*sdk.APIKey).GetDescription},
	{"Owner", (*sdk.APIKey).GetOwner},
	{"Resource", (*sdk.APIKey).GetResource},
	{"Created", func(k *sdk.APIKey) string { return timestamp(k.GetCreateTime()) }},
}

// newKeyFields add the secret, shown once.
var newKeyFields = append(apiKeyFields[:1:1], append([]column[*sdk.APIKey]{
	{"API Secret", (*sdk.APIKey).GetSecret}}, apiKeyFields[1:]...)...)

var apiKeyPattern = regexp.MustCompile(`^[A-Z0-9]{16}$`)

func checkAPIKey(key string) error {
	if !apiKeyPattern.MatchString(key) {
		return usageError{fmt.Errorf("%q is not an API key (16 uppercase letters and digits)", key)}
	}
	return nil
}

// checkResource checks --resource: cloud or a cluster id.
func checkResource(r string) error {
	if r == sdk.CloudResource {
		return nil
	}
	if err := checkID("cluster", "lkc-", r); err != nil {
		return usageError{fmt.Errorf("--resource %q: want cloud or a cluster id (lkc-…)", r)}
	}
	return nil
}

func newAPIKeyCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "api-key",
		Aliases: []string{"api-keys"},
		Short:   "Manage API keys: cloud keys for the API, cluster keys for Kafka clients",
		Example: `  affluent api-key create --service-account sa-abc123 --resource lkc-abc123
  affluent api-key use ABCDEFGH12345678`,
		Args: cobra.NoArgs,
	}

	var owner, resource, name, description string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key; its secret is shown only now",
		Long: `Create an API key for a service account (or user) on a resource: ` + "`cloud`" + ` for the
API, or a cluster id for Kafka clients. The secret is shown once; for a cluster
key the CLI also saves it in the context, so that ` + "`affluent api-key use KEY`" + ` can
make Kafka commands use it.`,
		Example: `  affluent api-key create --service-account sa-abc123 --resource lkc-abc123
  affluent api-key create --service-account sa-abc123 --resource cloud --name ci
  SECRET=$(affluent api-key create --service-account sa-abc123 --resource lkc-abc123 -o json | jq -r .secret)`,
		Args: cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			if err := checkResource(resource); err != nil {
				return err
			}
			key, err := s.client.CreateAPIKey(cmd.Context(), &sdk.APIKey{Owner: owner, Resource: resource, DisplayName: name, Description: description})
			if err != nil {
				return err
			}
			if key.GetSecret() != "" && resource != sdk.CloudResource {
				s.ctx.storeSecret(key.GetId(), key.GetSecret())
				if err := s.save(); err != nil {
					return err
				}
			}
			if a.output == formatTable {
				fmt.Fprintln(a.stderr, "Save the API secret now: it cannot be shown again.")
			}
			return printOne(a.printer(cmd), key, newKeyFields)
		}),
	}
	create.Flags().StringVar(&owner, "service-account", "", "owner of the key: a service account (sa-…) or user (u-…) id")
	create.Flags().StringVar(&resource, "resource", "", "cloud, or the cluster id (lkc-…) the key is for")
	create.Flags().StringVar(&name, "name", "", "name of the key")
	create.Flags().StringVar(&description, "description", "", "what the key is for")
	_ = create.MarkFlagRequired("service-account")
	_ = create.MarkFlagRequired("resource")

	var lOwner, lResource string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List API keys (never their secrets)",
		Example: "  affluent api-key list --resource lkc-abc123\n  affluent api-key list --service-account sa-abc123 -o json",
		Args:    cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			keys, err := sdk.Collect(s.client.ListAPIKeys(cmd.Context(), sdk.APIKeyFilter{Owner: lOwner, Resource: lResource}))
			if err != nil {
				return err
			}
			return printList(a.printer(cmd), keys, apiKeyColumns)
		}),
	}
	list.Flags().StringVar(&lOwner, "service-account", "", "only keys of this owner")
	list.Flags().StringVar(&lResource, "resource", "", "only keys for this resource (cloud or lkc-…)")

	describe := &cobra.Command{
		Use:     "describe KEY",
		Short:   "Show an API key",
		Example: "  affluent api-key describe ABCDEFGH12345678",
		Args:    exactArgs(1, "KEY"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkAPIKey(args[0]); err != nil {
				return err
			}
			key, err := s.client.GetAPIKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), key, apiKeyFields)
		}),
	}

	var uName, uDescription string
	update := &cobra.Command{
		Use:     "update KEY",
		Short:   "Rename an API key or change its description",
		Example: "  affluent api-key update ABCDEFGH12345678 --description 'billing, prod'",
		Args:    exactArgs(1, "KEY"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkAPIKey(args[0]); err != nil {
				return err
			}
			paths := changed(cmd, map[string]string{"name": "display_name", "description": "description"})
			if len(paths) == 0 {
				return usageError{errors.New("nothing to update: give --name or --description")}
			}
			key, err := s.client.UpdateAPIKey(cmd.Context(), &sdk.APIKey{Id: args[0], DisplayName: uName, Description: uDescription}, paths...)
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), key, apiKeyFields)
		}),
	}
	update.Flags().StringVar(&uName, "name", "", "new name")
	update.Flags().StringVar(&uDescription, "description", "", "new description")

	del := &cobra.Command{
		Use:     "delete KEY",
		Short:   "Revoke an API key",
		Example: "  affluent api-key delete ABCDEFGH12345678",
		Args:    exactArgs(1, "KEY"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkAPIKey(args[0]); err != nil {
				return err
			}
			if err := s.client.DeleteAPIKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			s.ctx.forgetKey(args[0])
			if err := s.save(); err != nil {
				return err
			}
			return a.printer(cmd).message(deleted(args[0]), "Deleted API key %q.", args[0])
		}),
	}

	var useResource string
	use := &cobra.Command{
		Use:   "use KEY",
		Short: "Make Kafka commands use a cluster API key (its secret must be saved)",
		Long: `Make the Kafka commands (topic produce/consume/describe, group) use this key for
its cluster. The CLI must know the secret: it saves those of the keys it creates;
for others run ` + "`affluent api-key store KEY SECRET`" + ` first.`,
		Example: "  affluent api-key use ABCDEFGH12345678",
		Args:    exactArgs(1, "KEY"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkAPIKey(args[0]); err != nil {
				return err
			}
			key, err := s.client.GetAPIKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := checkKafkaKey(key, useResource); err != nil {
				return err
			}
			if s.ctx.APIKeySecrets[key.GetId()] == "" {
				return setupError{fmt.Errorf("the secret of API key %s is not saved: run `affluent api-key store %s SECRET`", key.GetId(), key.GetId())}
			}
			s.ctx.kafka(key.GetResource()).APIKey = key.GetId()
			if err := s.save(); err != nil {
				return err
			}
			return a.printer(cmd).message(map[string]string{"api_key": key.GetId(), "cluster": key.GetResource()},
				"Using API key %q for cluster %q.", key.GetId(), key.GetResource())
		}),
	}
	use.Flags().StringVar(&useResource, "resource", "", "the cluster the key is for (checked against the key)")

	var storeResource string
	var force bool
	store := &cobra.Command{
		Use:     "store KEY SECRET",
		Short:   "Save the secret of a cluster API key made elsewhere, for `api-key use`",
		Example: "  affluent api-key store ABCDEFGH12345678 \"$SECRET\" && affluent api-key use ABCDEFGH12345678",
		Args:    exactArgs(2, "KEY and SECRET"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			if err := checkAPIKey(args[0]); err != nil {
				return err
			}
			key, err := s.client.GetAPIKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := checkKafkaKey(key, storeResource); err != nil {
				return err
			}
			if s.ctx.APIKeySecrets[key.GetId()] != "" && !force {
				return usageError{fmt.Errorf("a secret of API key %s is saved already; --force replaces it", key.GetId())}
			}
			s.ctx.storeSecret(key.GetId(), args[1])
			if err := s.save(); err != nil {
				return err
			}
			return a.printer(cmd).message(map[string]string{"api_key": key.GetId(), "cluster": key.GetResource()},
				"Saved the secret of API key %q.", key.GetId())
		}),
	}
	store.Flags().StringVar(&storeResource, "resource", "", "the cluster the key is for (checked against the key)")
	store.Flags().BoolVar(&force, "force", false, "replace a saved secret")

	cmd.AddCommand(create, list, describe, update, del, use, store)
	return cmd
}

func checkKafkaKey(key *sdk.APIKey, resource string) error {
	if key.GetResource() == sdk.CloudResource {
		return usageError{fmt.Errorf("API key %s is a cloud key; Kafka commands need a cluster key (affluent api-key create --resource lkc-…)", key.GetId())}
	}
	if resource != "" && resource != key.GetResource() {
		return usageError{fmt.Errorf("API key %s is for cluster %s, not %s", key.GetId(), key.GetResource(), resource)}
	}
	return nil
}
