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
	_ resource.Resource                = (*identityPoolResource)(nil)
	_ resource.ResourceWithConfigure   = (*identityPoolResource)(nil)
	_ resource.ResourceWithImportState = (*identityPoolResource)(nil)
)

func newIdentityPoolResource() resource.Resource { return &identityPoolResource{} }

type identityPoolResource struct{ clientResource }

type identityPoolModel struct {
	ID                 types.String `tfsdk:"id"`
	PoolID             types.String `tfsdk:"pool_id"`
	IdentityProviderID types.String `tfsdk:"identity_provider_id"`
	DisplayName        types.String `tfsdk:"display_name"`
	Description        types.String `tfsdk:"description"`
	IdentityClaim      types.String `tfsdk:"identity_claim"`
	Filter             types.String `tfsdk:"filter"`
	Principal          types.String `tfsdk:"principal"`
	CreateTime         types.String `tfsdk:"create_time"`
}

func (r *identityPoolResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_identity_pool"
}

func (r *identityPoolResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "Maps the tokens of an identity provider that pass a filter to one principal. Its id, and the import id, is " +
			"`<identity provider id>/<pool id>`: `terraform import affluent_identity_pool.x idp-abc123/pool-def456`.",
		Attributes: map[string]schema.Attribute{
			"id":      schema.StringAttribute{Computed: true, Description: "`<identity provider id>/<pool id>`.", PlanModifiers: keep},
			"pool_id": schema.StringAttribute{Computed: true, Description: "Pool id, `pool-…`.", PlanModifiers: keep},
			"identity_provider_id": schema.StringAttribute{
				Required: true, Description: "The identity provider, `idp-…`. Changing it replaces the pool.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{prefixed("idp-")},
			},
			"display_name": schema.StringAttribute{
				Required: true, Description: "Name, unique within the provider. Updatable.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 64)},
			},
			"description": schema.StringAttribute{Optional: true, Description: "Free text. Updatable.", Validators: []validator.String{stringvalidator.LengthBetween(1, 256)}},
			"identity_claim": schema.StringAttribute{
				Required: true, Description: "The claim that names the caller in logs, for example `claims.sub`. Updatable.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 256)},
			},
			"filter": schema.StringAttribute{
				Required:    true,
				Description: "A CEL condition on the token's claims, for example `claims.aud == \"kafka\" && has(claims.group)`. Updatable.",
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"principal":   schema.StringAttribute{Computed: true, Description: "The pool's principal, `User:pool-…`.", PlanModifiers: keep},
			"create_time": schema.StringAttribute{Computed: true, Description: "When it was created (RFC 3339).", PlanModifiers: keep},
		},
	}
}

func (m *identityPoolModel) fill(provider string, p *sdk.IdentityPool) {
	m.IdentityProviderID = types.StringValue(provider)
	m.PoolID = types.StringValue(p.GetId())
	m.ID = types.StringValue(provider + "/" + p.GetId())
	m.DisplayName = types.StringValue(p.GetDisplayName())
	m.Description = optionalString(p.GetDescription())
	m.IdentityClaim = types.StringValue(p.GetIdentityClaim())
	m.Filter = types.StringValue(p.GetFilter())
	m.Principal = types.StringValue(p.GetPrincipal())
	m.CreateTime = timeString(p.GetCreateTime())
}

func (m *identityPoolModel) pool() *sdk.IdentityPool {
	return &sdk.IdentityPool{
		Id: m.PoolID.ValueString(), DisplayName: m.DisplayName.ValueString(), Description: m.Description.ValueString(),
		IdentityClaim: m.IdentityClaim.ValueString(), Filter: m.Filter.ValueString(),
	}
}

func (r *identityPoolResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan identityPoolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.pool()
	in.Id = ""
	provider := plan.IdentityProviderID.ValueString()
	p, err := r.client.CreateIdentityPool(ctx, provider, in)
	if err != nil {
		apiError(&resp.Diagnostics, "create identity pool", err)
		return
	}
	plan.fill(provider, p)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *identityPoolResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state identityPoolModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	provider := state.IdentityProviderID.ValueString()
	p, err := r.client.GetIdentityPool(ctx, provider, state.PoolID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "read identity pool "+state.ID.ValueString(), err)
		return
	}
	state.fill(provider, p)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *identityPoolResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state identityPoolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.PoolID = state.PoolID
	provider := state.IdentityProviderID.ValueString()
	p, err := r.client.UpdateIdentityPool(ctx, provider, plan.pool(), "display_name", "description", "identity_claim", "filter")
	if err != nil {
		apiError(&resp.Diagnostics, "update identity pool "+state.ID.ValueString(), err)
		return
	}
	plan.fill(provider, p)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *identityPoolResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state identityPoolModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.DeleteIdentityPool(ctx, state.IdentityProviderID.ValueString(), state.PoolID.ValueString()); err != nil && !isNotFound(err) {
		apiError(&resp.Diagnostics, "delete identity pool "+state.ID.ValueString(), err)
	}
}

func (r *identityPoolResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts, err := splitID(req.ID, 2, "<identity provider id>/<pool id>, e.g. idp-abc123/pool-def456")
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("identity_provider_id"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("pool_id"), parts[1])...)
}
