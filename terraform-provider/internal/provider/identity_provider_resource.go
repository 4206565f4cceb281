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
	_ resource.Resource                = (*identityProviderResource)(nil)
	_ resource.ResourceWithConfigure   = (*identityProviderResource)(nil)
	_ resource.ResourceWithImportState = (*identityProviderResource)(nil)
)

func newIdentityProviderResource() resource.Resource { return &identityProviderResource{} }

type identityProviderResource struct{ clientResource }

type identityProviderModel struct {
	ID          types.String `tfsdk:"id"`
	DisplayName types.String `tfsdk:"display_name"`
	Description types.String `tfsdk:"description"`
	Issuer      types.String `tfsdk:"issuer"`
	JWKSURI     types.String `tfsdk:"jwks_uri"`
	CreateTime  types.String `tfsdk:"create_time"`
}

func (r *identityProviderResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_identity_provider"
}

func (r *identityProviderResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	url := stringvalidator.RegexMatches(urlRE, "must be an http(s) URL")
	resp.Schema = schema.Schema{
		Description: "An external OIDC identity provider whose tokens identity pools accept. " +
			"Import with its id: `terraform import affluent_identity_provider.x idp-abc123`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "Identity provider id, `idp-…`.", PlanModifiers: keep},
			"display_name": schema.StringAttribute{
				Required: true, Description: "Name, unique within the organization. Updatable.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 64)},
			},
			"description": schema.StringAttribute{Optional: true, Description: "Free text. Updatable.", Validators: []validator.String{stringvalidator.LengthBetween(1, 256)}},
			"issuer": schema.StringAttribute{
				Required: true, Description: "The `iss` claim of its tokens, an https URL (http for loopback hosts). Updatable.",
				Validators: []validator.String{url},
			},
			"jwks_uri": schema.StringAttribute{
				Required: true, Description: "Where its signing keys are published, an https URL (http for loopback hosts). Updatable.",
				Validators: []validator.String{url},
			},
			"create_time": schema.StringAttribute{Computed: true, Description: "When it was created (RFC 3339).", PlanModifiers: keep},
		},
	}
}

func (m *identityProviderModel) fill(p *sdk.IdentityProvider) {
	m.ID = types.StringValue(p.GetId())
	m.DisplayName = types.StringValue(p.GetDisplayName())
	m.Description = optionalString(p.GetDescription())
	m.Issuer = types.StringValue(p.GetIssuer())
	m.JWKSURI = types.StringValue(p.GetJwksUri())
	m.CreateTime = timeString(p.GetCreateTime())
}

func (m *identityProviderModel) provider() *sdk.IdentityProvider {
	return &sdk.IdentityProvider{
		Id: m.ID.ValueString(), DisplayName: m.DisplayName.ValueString(), Description: m.Description.ValueString(),
		Issuer: m.Issuer.ValueString(), JwksUri: m.JWKSURI.ValueString(),
	}
}

func (r *identityProviderResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan identityProviderModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.provider()
	in.Id = ""
	p, err := r.client.CreateIdentityProvider(ctx, in)
	if err != nil {
		apiError(&resp.Diagnostics, "create identity provider", err)
		return
	}
	plan.fill(p)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *identityProviderResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state identityProviderModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.client.GetIdentityProvider(ctx, state.ID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "read identity provider "+state.ID.ValueString(), err)
		return
	}
	state.fill(p)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *identityProviderResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state identityProviderModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID = state.ID
	p, err := r.client.UpdateIdentityProvider(ctx, plan.provider(), "display_name", "description", "issuer", "jwks_uri")
	if err != nil {
		apiError(&resp.Diagnostics, "update identity provider "+state.ID.ValueString(), err)
		return
	}
	plan.fill(p)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *identityProviderResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state identityProviderModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.DeleteIdentityProvider(ctx, state.ID.ValueString()); err != nil && !isNotFound(err) {
		apiError(&resp.Diagnostics, "delete identity provider "+state.ID.ValueString(), err)
	}
}

func (r *identityProviderResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
