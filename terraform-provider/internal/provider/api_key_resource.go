package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/affluent-io/affluent/sdk"
)

var (
	_ resource.Resource                = (*apiKeyResource)(nil)
	_ resource.ResourceWithConfigure   = (*apiKeyResource)(nil)
	_ resource.ResourceWithImportState = (*apiKeyResource)(nil)
)

func newAPIKeyResource() resource.Resource { return &apiKeyResource{} }

type apiKeyResource struct{ clientResource }

type apiKeyModel struct {
	ID          types.String `tfsdk:"id"`
	DisplayName types.String `tfsdk:"display_name"`
	Description types.String `tfsdk:"description"`
	Owner       types.String `tfsdk:"owner"`
	Resource    types.String `tfsdk:"resource"`
	Secret      types.String `tfsdk:"secret"`
	CreateTime  types.String `tfsdk:"create_time"`
}

func (r *apiKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_key"
}

func (r *apiKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "An API key of a service account or user, for the cloud API (`resource = \"cloud\"`) or one Kafka cluster " +
			"(`resource = \"lkc-…\"`). The secret is only known when the key is created: it is kept (sensitive) in the state, " +
			"and an imported key has none. Import with the key: `terraform import affluent_api_key.x ABCDEFGH12345678`.",
		Attributes: map[string]schema.Attribute{
			"id":           schema.StringAttribute{Computed: true, Description: "The key itself, 16 uppercase letters and digits.", PlanModifiers: keep},
			"display_name": schema.StringAttribute{Optional: true, Description: "Name. Updatable.", Validators: []validator.String{stringvalidator.LengthBetween(1, 64)}},
			"description":  schema.StringAttribute{Optional: true, Description: "Free text. Updatable.", Validators: []validator.String{stringvalidator.LengthBetween(1, 256)}},
			"owner": schema.StringAttribute{
				Required: true, Description: "The principal the key acts as: a service account (`sa-…`) or user (`u-…`) id. Changing it replaces the key.",
				PlanModifiers: replace,
				Validators:    []validator.String{stringvalidator.RegexMatches(ownerRE, "must be a service account (sa-…) or user (u-…) id")},
			},
			"resource": schema.StringAttribute{
				Required: true, Description: "`cloud`, or the id of the Kafka cluster (`lkc-…`) the key is for. Changing it replaces the key.",
				PlanModifiers: replace,
				Validators:    []validator.String{stringvalidator.RegexMatches(keyResourceRE, "must be cloud or a cluster id (lkc-…)")},
			},
			"secret": schema.StringAttribute{
				Computed: true, Sensitive: true, PlanModifiers: keep,
				Description: "The secret, 64 characters; only known at create (null after import).",
			},
			"create_time": schema.StringAttribute{Computed: true, Description: "When the key was created (RFC 3339).", PlanModifiers: keep},
		},
	}
}

// fill copies key into m, keeping m's secret unless key carries one (only
// the response to create does).
func (m *apiKeyModel) fill(key *sdk.APIKey) {
	m.ID = types.StringValue(key.GetId())
	m.DisplayName = optionalString(key.GetDisplayName())
	m.Description = optionalString(key.GetDescription())
	m.Owner = types.StringValue(key.GetOwner())
	m.Resource = types.StringValue(key.GetResource())
	m.CreateTime = timeString(key.GetCreateTime())
	if key.Secret != nil {
		m.Secret = types.StringValue(key.GetSecret())
	} else if m.Secret.IsUnknown() {
		m.Secret = types.StringNull()
	}
}

func (r *apiKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan apiKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	key, err := r.client.CreateAPIKey(ctx, &sdk.APIKey{
		DisplayName: plan.DisplayName.ValueString(), Description: plan.Description.ValueString(),
		Owner: plan.Owner.ValueString(), Resource: plan.Resource.ValueString(),
	})
	if err != nil {
		apiError(&resp.Diagnostics, "create API key", err)
		return
	}
	plan.fill(key)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *apiKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state apiKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	key, err := r.client.GetAPIKey(ctx, state.ID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "read API key "+state.ID.ValueString(), err)
		return
	}
	state.fill(key)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *apiKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state apiKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	key, err := r.client.UpdateAPIKey(ctx, &sdk.APIKey{
		Id: state.ID.ValueString(), DisplayName: plan.DisplayName.ValueString(), Description: plan.Description.ValueString(),
	}, "display_name", "description")
	if err != nil {
		apiError(&resp.Diagnostics, "update API key "+state.ID.ValueString(), err)
		return
	}
	plan.Secret = state.Secret
	plan.fill(key)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *apiKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state apiKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.DeleteAPIKey(ctx, state.ID.ValueString()); err != nil && !isNotFound(err) {
		apiError(&resp.Diagnostics, "delete API key "+state.ID.ValueString(), err)
	}
}

func (r *apiKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
