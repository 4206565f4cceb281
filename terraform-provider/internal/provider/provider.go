// Package provider is the Terraform provider `affluent`: resources and data
// sources over the Affluent Go SDK (../../sdk), one file per resource with
// its acceptance test beside it.
package provider

import (
	"context"
	"os"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/affluent-io/affluent/sdk"
)

var _ provider.Provider = (*affluentProvider)(nil)

// affluentProvider configures one SDK client that every resource shares.
type affluentProvider struct {
	version string
}

// New returns a factory of the provider, as providerserver.Serve wants.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &affluentProvider{version: version} }
}

type providerModel struct {
	Endpoint  types.String `tfsdk:"endpoint"`
	APIKey    types.String `tfsdk:"api_key"`
	APISecret types.String `tfsdk:"api_secret"`
	Insecure  types.Bool   `tfsdk:"insecure"`
}

func (p *affluentProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "affluent"
	resp.Version = p.version
}

func (p *affluentProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages Affluent environments, Kafka clusters, topics and access through the Affluent gRPC API.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				Optional: true,
				Description: "Address of the Affluent gRPC API, `host:port` (for example `api.affluent.io:443`, or " +
					"`127.0.0.1:9090` for `affluent dev`); not the REST URL. An `http://` prefix implies `insecure`. " +
					"Defaults to the environment variable `AFFLUENT_ENDPOINT`.",
			},
			"api_key": schema.StringAttribute{
				Optional:    true,
				Description: "Cloud API key. Defaults to `AFFLUENT_API_KEY`.",
			},
			"api_secret": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: "Secret of the cloud API key. Defaults to `AFFLUENT_API_SECRET`.",
			},
			"insecure": schema.BoolAttribute{
				Optional: true,
				Description: "Connect with plaintext gRPC, without TLS (local development only: the secret travels " +
					"in clear). Defaults to `AFFLUENT_INSECURE`, else false.",
			},
		},
	}
}

func (p *affluentProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	pick := func(v types.String, attr, env string) string {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(attr), "Unknown value",
				attr+" must be known when the provider is configured; set it from a value known at plan time or use "+env+".")
			return ""
		}
		if !v.IsNull() {
			return v.ValueString()
		}
		return os.Getenv(env)
	}
	endpoint := pick(cfg.Endpoint, "endpoint", "AFFLUENT_ENDPOINT")
	key := pick(cfg.APIKey, "api_key", "AFFLUENT_API_KEY")
	secret := pick(cfg.APISecret, "api_secret", "AFFLUENT_API_SECRET")
	insecure := cfg.Insecure.ValueBool()
	if cfg.Insecure.IsNull() {
		insecure, _ = strconv.ParseBool(os.Getenv("AFFLUENT_INSECURE"))
	}
	for attr, v := range map[string]string{"endpoint": endpoint, "api_key": key, "api_secret": secret} {
		if v == "" {
			resp.Diagnostics.AddAttributeError(path.Root(attr), "Missing "+attr,
				"Set "+attr+" in the provider block or the environment variable AFFLUENT_"+envSuffix(attr)+".")
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	opts := []sdk.Option{sdk.WithAPIKey(key, secret), sdk.WithUserAgent("terraform-provider-affluent/" + p.version)}
	if insecure {
		opts = append(opts, sdk.WithInsecure())
	}
	client, err := sdk.New(ctx, endpoint, opts...)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create the Affluent client", err.Error())
		return
	}
	resp.ResourceData = client
	resp.DataSourceData = client
}

func envSuffix(attr string) string {
	switch attr {
	case "endpoint":
		return "ENDPOINT"
	case "api_key":
		return "API_KEY"
	}
	return "API_SECRET"
}

func (p *affluentProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newEnvironmentResource,
		newServiceAccountResource,
		newKafkaClusterResource,
		newKafkaTopicResource,
		newAPIKeyResource,
		newRoleBindingResource,
		newKafkaACLResource,
		newKafkaClientQuotaResource,
		newIdentityProviderResource,
		newIdentityPoolResource,
	}
}

func (p *affluentProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		newEnvironmentDataSource,
		newServiceAccountDataSource,
		newKafkaClusterDataSource,
		newKafkaTopicDataSource,
		newAPIKeyDataSource,
		newRoleBindingDataSource,
		newKafkaACLDataSource,
		newKafkaClientQuotaDataSource,
		newIdentityProviderDataSource,
		newIdentityPoolDataSource,
	}
}
