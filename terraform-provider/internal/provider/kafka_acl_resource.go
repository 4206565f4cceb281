package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/affluent-io/affluent/sdk"
)

var (
	_ resource.Resource                = (*kafkaACLResource)(nil)
	_ resource.ResourceWithConfigure   = (*kafkaACLResource)(nil)
	_ resource.ResourceWithImportState = (*kafkaACLResource)(nil)
)

func newKafkaACLResource() resource.Resource { return &kafkaACLResource{} }

type kafkaACLResource struct{ clientResource }

type kafkaACLModel struct {
	ID            types.String `tfsdk:"id"`
	ACLID         types.String `tfsdk:"acl_id"`
	EnvironmentID types.String `tfsdk:"environment_id"`
	ClusterID     types.String `tfsdk:"cluster_id"`
	ResourceType  types.String `tfsdk:"resource_type"`
	ResourceName  types.String `tfsdk:"resource_name"`
	PatternType   types.String `tfsdk:"pattern_type"`
	Principal     types.String `tfsdk:"principal"`
	Host          types.String `tfsdk:"host"`
	Operation     types.String `tfsdk:"operation"`
	Permission    types.String `tfsdk:"permission"`
}

func (r *kafkaACLResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_kafka_acl"
}

func (r *kafkaACLResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	required := func(desc string, v ...validator.String) schema.StringAttribute {
		return schema.StringAttribute{Required: true, Description: desc + " Changing it replaces the ACL.", PlanModifiers: replace, Validators: v}
	}
	resp.Schema = schema.Schema{
		Description: "A Kafka ACL binding of a cluster. ACLs cannot be changed: any change replaces the binding. " +
			"Its id, and the import id, is `<environment id>/<cluster id>/<acl id>`: " +
			"`terraform import affluent_kafka_acl.x env-abc123/lkc-def456/<acl id>`.",
		Attributes: map[string]schema.Attribute{
			"id":             schema.StringAttribute{Computed: true, Description: "`<environment id>/<cluster id>/<acl id>`.", PlanModifiers: keep},
			"acl_id":         schema.StringAttribute{Computed: true, Description: "The API's id of the binding.", PlanModifiers: keep},
			"environment_id": required("Environment of the cluster, `env-…`.", prefixed("env-")),
			"cluster_id":     required("Cluster, `lkc-…`.", prefixed("lkc-")),
			"resource_type":  required("TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID.", stringvalidator.OneOf("TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID")),
			"resource_name":  required("The resource name; `kafka-cluster` for CLUSTER; `*` for every resource.", stringvalidator.LengthAtLeast(1)),
			"pattern_type": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("LITERAL"), PlanModifiers: replace,
				Description: "LITERAL (default) or PREFIXED. Changing it replaces the ACL.",
				Validators:  []validator.String{stringvalidator.OneOf("LITERAL", "PREFIXED")},
			},
			"principal": required("`User:<id>`, for example `User:sa-abc123`, or `User:*`.", stringvalidator.RegexMatches(principalRE, "must be User:<id>")),
			"host": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("*"), PlanModifiers: replace,
				Description: "Client host, `*` (default) for any. Changing it replaces the ACL.",
			},
			"operation": required("ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS or IDEMPOTENT_WRITE.",
				stringvalidator.OneOf("ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE")),
			"permission": required("ALLOW or DENY.", stringvalidator.OneOf("ALLOW", "DENY")),
		},
	}
}

func (m *kafkaACLModel) fill(env, cluster string, a *sdk.ACL) {
	m.EnvironmentID = types.StringValue(env)
	m.ClusterID = types.StringValue(cluster)
	m.ACLID = types.StringValue(a.GetId())
	m.ID = types.StringValue(env + "/" + cluster + "/" + a.GetId())
	m.ResourceType = types.StringValue(a.GetResourceType())
	m.ResourceName = types.StringValue(a.GetResourceName())
	m.PatternType = types.StringValue(a.GetPatternType())
	m.Principal = types.StringValue(a.GetPrincipal())
	m.Host = types.StringValue(a.GetHost())
	m.Operation = types.StringValue(a.GetOperation())
	m.Permission = types.StringValue(a.GetPermission())
}

func (r *kafkaACLResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan kafkaACLModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	env, cluster := plan.EnvironmentID.ValueString(), plan.ClusterID.ValueString()
	a, err := r.client.CreateACL(ctx, env, cluster, &sdk.ACL{
		ResourceType: plan.ResourceType.ValueString(), ResourceName: plan.ResourceName.ValueString(),
		PatternType: plan.PatternType.ValueString(), Principal: plan.Principal.ValueString(), Host: plan.Host.ValueString(),
		Operation: plan.Operation.ValueString(), Permission: plan.Permission.ValueString(),
	})
	if err != nil {
		apiError(&resp.Diagnostics, "create Kafka ACL", err)
		return
	}
	plan.fill(env, cluster, a)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *kafkaACLResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state kafkaACLModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	env, cluster := state.EnvironmentID.ValueString(), state.ClusterID.ValueString()
	a, err := r.client.GetACL(ctx, env, cluster, state.ACLID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "read Kafka ACL "+state.ID.ValueString(), err)
		return
	}
	state.fill(env, cluster, a)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never called with a change (every attribute forces
// replacement); it keeps the plan.
func (r *kafkaACLResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan kafkaACLModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *kafkaACLResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state kafkaACLModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.DeleteACL(ctx, state.EnvironmentID.ValueString(), state.ClusterID.ValueString(), state.ACLID.ValueString())
	if err != nil && !isNotFound(err) {
		apiError(&resp.Diagnostics, "delete Kafka ACL "+state.ID.ValueString(), err)
	}
}

func (r *kafkaACLResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts, err := splitID(req.ID, 3, "<environment id>/<cluster id>/<acl id>")
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("environment_id"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cluster_id"), parts[1])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("acl_id"), parts[2])...)
}
