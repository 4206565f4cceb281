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
	_ resource.Resource                = (*serviceAccountResource)(nil)
	_ resource.ResourceWithConfigure   = (*serviceAccountResource)(nil)
	_ resource.ResourceWithImportState = (*serviceAccountResource)(nil)
)

func newServiceAccountResource() resource.Resource { return &serviceAccountResource{} }

type serviceAccountResource struct{ clientResource }

type serviceAccountModel struct {
	ID          types.String `tfsdk:"id"`
	DisplayName types.String `tfsdk:"display_name"`
	Description types.String `tfsdk:"description"`
	CreateTime  types.String `tfsdk:"create_time"`
	Principal   types.String `tfsdk:"principal"`
}

func (r *serviceAccountResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_account"
}

func (r *serviceAccountResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A service account is a principal for applications. Deleting it also deletes its API keys and role bindings. Import with its id: `terraform import affluent_service_account.x sa-abc123`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, Description: "Service account id, `sa-…`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"display_name": schema.StringAttribute{
				Required: true, Description: "Name, unique within the organization, 1 to 64 characters. Updatable.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 64)},
			},
			"description": schema.StringAttribute{
				Optional: true, Description: "Free text, at most 256 characters. Updatable.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 256)},
			},
			"principal": schema.StringAttribute{
				Computed: true, Description: "Principal of the account in role bindings and ACLs, `User:sa-…`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"create_time": schema.StringAttribute{
				Computed: true, Description: "When the service account was created (RFC 3339).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (m *serviceAccountModel) fill(sa *sdk.ServiceAccount) {
	m.ID = types.StringValue(sa.GetId())
	m.DisplayName = types.StringValue(sa.GetDisplayName())
	m.Description = optionalString(sa.GetDescription())
	m.CreateTime = timeString(sa.GetCreateTime())
	m.Principal = types.StringValue(sa.GetPrincipal())
}

func (r *serviceAccountResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan serviceAccountModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	sa, err := r.client.CreateServiceAccount(ctx, &sdk.ServiceAccount{DisplayName: plan.DisplayName.ValueString(), Description: plan.Description.ValueString()})
	if err != nil {
		apiError(&resp.Diagnostics, "create service account", err)
		return
	}
	plan.fill(sa)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *serviceAccountResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state serviceAccountModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	sa, err := r.client.GetServiceAccount(ctx, state.ID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "read service account "+state.ID.ValueString(), err)
		return
	}
	state.fill(sa)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *serviceAccountResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state serviceAccountModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	sa, err := r.client.UpdateServiceAccount(ctx, &sdk.ServiceAccount{
		Id: state.ID.ValueString(), DisplayName: plan.DisplayName.ValueString(), Description: plan.Description.ValueString(),
	}, "display_name", "description")
	if err != nil {
		apiError(&resp.Diagnostics, "update service account "+state.ID.ValueString(), err)
		return
	}
	plan.fill(sa)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *serviceAccountResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state serviceAccountModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.DeleteServiceAccount(ctx, state.ID.ValueString()); err != nil && !isNotFound(err) {
		apiError(&resp.Diagnostics, "delete service account "+state.ID.ValueString(), err)
	}
}

func (r *serviceAccountResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
