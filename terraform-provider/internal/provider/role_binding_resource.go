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
	_ resource.Resource                = (*roleBindingResource)(nil)
	_ resource.ResourceWithConfigure   = (*roleBindingResource)(nil)
	_ resource.ResourceWithImportState = (*roleBindingResource)(nil)
)

// roleNames are the roles the API grants.
var roleNames = []string{
	"OrganizationAdmin", "EnvironmentAdmin", "CloudClusterAdmin", "Operator", "MetricsViewer",
	"ResourceOwner", "DeveloperRead", "DeveloperWrite", "DeveloperManage",
}

func newRoleBindingResource() resource.Resource { return &roleBindingResource{} }

type roleBindingResource struct{ clientResource }

type roleBindingModel struct {
	ID         types.String `tfsdk:"id"`
	Principal  types.String `tfsdk:"principal"`
	RoleName   types.String `tfsdk:"role_name"`
	CRNPattern types.String `tfsdk:"crn_pattern"`
	CreateTime types.String `tfsdk:"create_time"`
}

func (r *roleBindingResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role_binding"
}

func (r *roleBindingResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "Grants a role to a principal on the resources a CRN pattern names. Role bindings cannot be changed: " +
			"any change replaces the binding. Import with its id: `terraform import affluent_role_binding.x rb-abc123`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "Role binding id, `rb-…`.", PlanModifiers: keep},
			"principal": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "`User:<id>` of a user, service account or identity pool.",
				Validators:  []validator.String{stringvalidator.RegexMatches(principalRE, "must be User:<id>")},
			},
			"role_name": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "One of " + joinQuoted(roleNames) + ".",
				Validators:  []validator.String{stringvalidator.OneOf(roleNames...)},
			},
			"crn_pattern": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "The resources the role applies to, a CRN such as `crn://affluent/organization=o-1/environment=env-2`; " +
					"a trailing `*` in the last value is a prefix pattern (`topic=orders-*`).",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"create_time": schema.StringAttribute{Computed: true, Description: "When the binding was created (RFC 3339).", PlanModifiers: keep},
		},
	}
}

func (m *roleBindingModel) fill(rb *sdk.RoleBinding) {
	m.ID = types.StringValue(rb.GetId())
	m.Principal = types.StringValue(rb.GetPrincipal())
	m.RoleName = types.StringValue(rb.GetRoleName())
	m.CRNPattern = types.StringValue(rb.GetCrnPattern())
	m.CreateTime = timeString(rb.GetCreateTime())
}

func (r *roleBindingResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan roleBindingModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rb, err := r.client.CreateRoleBinding(ctx, &sdk.RoleBinding{
		Principal: plan.Principal.ValueString(), RoleName: plan.RoleName.ValueString(), CrnPattern: plan.CRNPattern.ValueString(),
	})
	if err != nil {
		apiError(&resp.Diagnostics, "create role binding", err)
		return
	}
	plan.fill(rb)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *roleBindingResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state roleBindingModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rb, err := r.client.GetRoleBinding(ctx, state.ID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "read role binding "+state.ID.ValueString(), err)
		return
	}
	state.fill(rb)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never called with a change (every attribute forces
// replacement); it keeps the plan.
func (r *roleBindingResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan roleBindingModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *roleBindingResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state roleBindingModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.DeleteRoleBinding(ctx, state.ID.ValueString()); err != nil && !isNotFound(err) {
		apiError(&resp.Diagnostics, "delete role binding "+state.ID.ValueString(), err)
	}
}

func (r *roleBindingResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
