package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/affluent-io/affluent/sdk"
)

var (
	_ resource.Resource                = (*kafkaClientQuotaResource)(nil)
	_ resource.ResourceWithConfigure   = (*kafkaClientQuotaResource)(nil)
	_ resource.ResourceWithImportState = (*kafkaClientQuotaResource)(nil)
)

func newKafkaClientQuotaResource() resource.Resource { return &kafkaClientQuotaResource{} }

type kafkaClientQuotaResource struct{ clientResource }

type kafkaClientQuotaModel struct {
	ID              types.String `tfsdk:"id"`
	QuotaID         types.String `tfsdk:"quota_id"`
	EnvironmentID   types.String `tfsdk:"environment_id"`
	ClusterID       types.String `tfsdk:"cluster_id"`
	DisplayName     types.String `tfsdk:"display_name"`
	Description     types.String `tfsdk:"description"`
	Principals      types.Set    `tfsdk:"principals"`
	IngressByteRate types.Int64  `tfsdk:"ingress_byte_rate"`
	EgressByteRate  types.Int64  `tfsdk:"egress_byte_rate"`
}

func (r *kafkaClientQuotaResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_kafka_client_quota"
}

func (r *kafkaClientQuotaResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	rate := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{
			Optional: true, Computed: true, Default: int64default.StaticInt64(0),
			Description: desc + " per principal, bytes per second; 0 (default) means unlimited. Updatable.",
			Validators:  []validator.Int64{int64validator.AtLeast(0)},
		}
	}
	resp.Schema = schema.Schema{
		Description: "Limits the throughput of some principals of a Kafka cluster. Its id, and the import id, is " +
			"`<environment id>/<cluster id>/<quota id>`: `terraform import affluent_kafka_client_quota.x env-abc123/lkc-def456/cq-789`.",
		Attributes: map[string]schema.Attribute{
			"id":       schema.StringAttribute{Computed: true, Description: "`<environment id>/<cluster id>/<quota id>`.", PlanModifiers: keep},
			"quota_id": schema.StringAttribute{Computed: true, Description: "Quota id, `cq-…`.", PlanModifiers: keep},
			"environment_id": schema.StringAttribute{
				Required: true, Description: "Environment of the cluster, `env-…`. Changing it replaces the quota.",
				PlanModifiers: replace, Validators: []validator.String{prefixed("env-")},
			},
			"cluster_id": schema.StringAttribute{
				Required: true, Description: "Cluster, `lkc-…`. Changing it replaces the quota.",
				PlanModifiers: replace, Validators: []validator.String{prefixed("lkc-")},
			},
			"display_name": schema.StringAttribute{
				Required: true, Description: "Name, unique within the cluster. Updatable.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 64)},
			},
			"description": schema.StringAttribute{
				Optional: true, Description: "Free text. Updatable.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 256)},
			},
			"principals": schema.SetAttribute{
				Required: true, ElementType: types.StringType,
				Description: "Principals the quota applies to, `User:<id>`; a principal has at most one quota per cluster. Updatable.",
				Validators: []validator.Set{
					setvalidator.SizeAtLeast(1),
					setvalidator.ValueStringsAre(stringvalidator.RegexMatches(principalRE, "must be User:<id>")),
				},
			},
			"ingress_byte_rate": rate("Produce throughput"),
			"egress_byte_rate":  rate("Fetch throughput"),
		},
	}
}

func (m *kafkaClientQuotaModel) fill(ctx context.Context, env, cluster string, q *sdk.ClientQuota) {
	m.EnvironmentID = types.StringValue(env)
	m.ClusterID = types.StringValue(cluster)
	m.QuotaID = types.StringValue(q.GetId())
	m.ID = types.StringValue(env + "/" + cluster + "/" + q.GetId())
	m.DisplayName = types.StringValue(q.GetDisplayName())
	m.Description = optionalString(q.GetDescription())
	m.Principals, _ = types.SetValueFrom(ctx, types.StringType, q.GetPrincipals())
	m.IngressByteRate = types.Int64Value(q.GetIngressByteRate())
	m.EgressByteRate = types.Int64Value(q.GetEgressByteRate())
}

func (m *kafkaClientQuotaModel) quota(ctx context.Context) (*sdk.ClientQuota, bool) {
	var principals []string
	if d := m.Principals.ElementsAs(ctx, &principals, false); d.HasError() {
		return nil, false
	}
	return &sdk.ClientQuota{
		Id: m.QuotaID.ValueString(), DisplayName: m.DisplayName.ValueString(), Description: m.Description.ValueString(),
		Principals: principals, IngressByteRate: m.IngressByteRate.ValueInt64(), EgressByteRate: m.EgressByteRate.ValueInt64(),
	}, true
}

func (r *kafkaClientQuotaResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan kafkaClientQuotaModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	q, ok := plan.quota(ctx)
	if !ok {
		resp.Diagnostics.AddAttributeError(path.Root("principals"), "Invalid principals", "principals must be known strings")
		return
	}
	q.Id = ""
	env, cluster := plan.EnvironmentID.ValueString(), plan.ClusterID.ValueString()
	q, err := r.client.CreateClientQuota(ctx, env, cluster, q)
	if err != nil {
		apiError(&resp.Diagnostics, "create Kafka client quota", err)
		return
	}
	plan.fill(ctx, env, cluster, q)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *kafkaClientQuotaResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state kafkaClientQuotaModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	env, cluster := state.EnvironmentID.ValueString(), state.ClusterID.ValueString()
	q, err := r.client.GetClientQuota(ctx, env, cluster, state.QuotaID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "read Kafka client quota "+state.ID.ValueString(), err)
		return
	}
	state.fill(ctx, env, cluster, q)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *kafkaClientQuotaResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state kafkaClientQuotaModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.QuotaID = state.QuotaID
	q, ok := plan.quota(ctx)
	if !ok {
		resp.Diagnostics.AddAttributeError(path.Root("principals"), "Invalid principals", "principals must be known strings")
		return
	}
	env, cluster := state.EnvironmentID.ValueString(), state.ClusterID.ValueString()
	q, err := r.client.UpdateClientQuota(ctx, env, cluster, q,
		"display_name", "description", "principals", "ingress_byte_rate", "egress_byte_rate")
	if err != nil {
		apiError(&resp.Diagnostics, "update Kafka client quota "+state.ID.ValueString(), err)
		return
	}
	plan.fill(ctx, env, cluster, q)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *kafkaClientQuotaResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state kafkaClientQuotaModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.DeleteClientQuota(ctx, state.EnvironmentID.ValueString(), state.ClusterID.ValueString(), state.QuotaID.ValueString())
	if err != nil && !isNotFound(err) {
		apiError(&resp.Diagnostics, "delete Kafka client quota "+state.ID.ValueString(), err)
	}
}

func (r *kafkaClientQuotaResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts, err := splitID(req.ID, 3, "<environment id>/<cluster id>/<quota id>")
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("environment_id"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cluster_id"), parts[1])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("quota_id"), parts[2])...)
}
