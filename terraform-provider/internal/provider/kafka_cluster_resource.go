package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
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
	_ resource.Resource                = (*kafkaClusterResource)(nil)
	_ resource.ResourceWithConfigure   = (*kafkaClusterResource)(nil)
	_ resource.ResourceWithImportState = (*kafkaClusterResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*kafkaClusterResource)(nil)
)

// defaultClusterCreateTimeout bounds the wait for RUNNING unless the
// configuration's timeouts block says otherwise.
const defaultClusterCreateTimeout = 30 * time.Minute

func newKafkaClusterResource() resource.Resource { return &kafkaClusterResource{} }

type kafkaClusterResource struct{ clientResource }

type kafkaClusterModel struct {
	ID               types.String   `tfsdk:"id"`
	EnvironmentID    types.String   `tfsdk:"environment_id"`
	DisplayName      types.String   `tfsdk:"display_name"`
	Type             types.String   `tfsdk:"type"`
	Cloud            types.String   `tfsdk:"cloud"`
	Region           types.String   `tfsdk:"region"`
	Plan             types.String   `tfsdk:"plan"`
	Brokers          types.Int64    `tfsdk:"brokers"`
	Phase            types.String   `tfsdk:"phase"`
	BootstrapServers types.String   `tfsdk:"bootstrap_servers"`
	RestEndpoint     types.String   `tfsdk:"rest_endpoint"`
	CreateTime       types.String   `tfsdk:"create_time"`
	Timeouts         timeouts.Value `tfsdk:"timeouts"`
}

func (r *kafkaClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_kafka_cluster"
}

// immutableComputed are the modifiers of an optional attribute the server
// defaults and never changes: keep the state's value when unset, replace
// the cluster when it changes.
func immutableComputed() []planmodifier.String {
	return []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()}
}

func (r *kafkaClusterResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	computedID := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "A Kafka cluster. Create waits until the cluster is RUNNING (see `timeouts`). " +
			"Import with `<environment id>/<cluster id>`: `terraform import affluent_kafka_cluster.x env-abc123/lkc-def456`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "Cluster id, `lkc-…`.", PlanModifiers: computedID},
			"environment_id": schema.StringAttribute{
				Required: true, Description: "Environment of the cluster, `env-…`. Changing it replaces the cluster.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{prefixed("env-")},
			},
			"display_name": schema.StringAttribute{
				Required: true, Description: "Name, unique within the environment, 1 to 64 characters. Updatable.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 64)},
			},
			"type": schema.StringAttribute{
				Optional: true, Computed: true, Description: "SERVERLESS (default) or DEDICATED. Changing it replaces the cluster.",
				PlanModifiers: immutableComputed(),
				Validators:    []validator.String{stringvalidator.OneOf("SERVERLESS", "DEDICATED")},
			},
			"cloud": schema.StringAttribute{
				Optional: true, Computed: true, Description: "LOCAL (default), AWS, GCP or AZURE. Changing it replaces the cluster.",
				PlanModifiers: immutableComputed(),
				Validators:    []validator.String{stringvalidator.OneOf("LOCAL", "AWS", "GCP", "AZURE")},
			},
			"region": schema.StringAttribute{
				Optional: true, Computed: true, Description: "Region of the cloud, for example `local` (default) or `us-east-1`. Changing it replaces the cluster.",
				PlanModifiers: immutableComputed(),
				Validators:    []validator.String{stringvalidator.RegexMatches(regionRE, "must be 1 to 63 of [a-z0-9-]")},
			},
			"plan": schema.StringAttribute{
				Optional: true, Computed: true, Description: "BASIC (default), STANDARD or ENTERPRISE. Updatable.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				Validators:    []validator.String{stringvalidator.OneOf("BASIC", "STANDARD", "ENTERPRISE")},
			},
			"brokers": schema.Int64Attribute{
				Optional: true, Description: "Brokers of a DEDICATED cluster, 1 to 32: required for DEDICATED, unset for SERVERLESS. " +
					"Updatable: a change resizes the cluster one broker at a time while it serves, and waits until it is done (see `timeouts`).",
				Validators: []validator.Int64{int64validator.Between(1, 32)},
			},
			"phase":             schema.StringAttribute{Computed: true, Description: "PROVISIONING, RUNNING, FAILED or DELETING.", PlanModifiers: computedID},
			"bootstrap_servers": schema.StringAttribute{Computed: true, Description: "host:port list for Kafka clients.", PlanModifiers: computedID},
			"rest_endpoint":     schema.StringAttribute{Computed: true, Description: "Base URL of the cluster's REST API.", PlanModifiers: computedID},
			"create_time":       schema.StringAttribute{Computed: true, Description: "When the cluster was created (RFC 3339).", PlanModifiers: computedID},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (m *kafkaClusterModel) fill(cl *sdk.Cluster) {
	m.ID = types.StringValue(cl.GetId())
	m.EnvironmentID = types.StringValue(cl.GetEnvironment())
	m.DisplayName = types.StringValue(cl.GetDisplayName())
	m.Type = types.StringValue(cl.GetSpec().GetType())
	m.Cloud = types.StringValue(cl.GetSpec().GetCloud())
	m.Region = types.StringValue(cl.GetSpec().GetRegion())
	m.Plan = types.StringValue(cl.GetSpec().GetPlan())
	m.Brokers = types.Int64Null()
	if n := cl.GetSpec().GetBrokers(); n != 0 {
		m.Brokers = types.Int64Value(int64(n))
	}
	m.Phase = types.StringValue(cl.GetStatus().GetPhase())
	m.BootstrapServers = types.StringValue(cl.GetStatus().GetBootstrapServers())
	m.RestEndpoint = types.StringValue(cl.GetStatus().GetRestEndpoint())
	m.CreateTime = timeString(cl.GetCreateTime())
}

func (r *kafkaClusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan kafkaClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultClusterCreateTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	env := plan.EnvironmentID.ValueString()
	cl, err := r.client.CreateCluster(ctx, env, &sdk.Cluster{
		DisplayName: plan.DisplayName.ValueString(),
		Spec: &sdk.ClusterSpec{
			Type: plan.Type.ValueString(), Cloud: plan.Cloud.ValueString(),
			Region: plan.Region.ValueString(), Plan: plan.Plan.ValueString(),
			Brokers: int32(plan.Brokers.ValueInt64()),
		},
	})
	if err != nil {
		apiError(&resp.Diagnostics, "create Kafka cluster", err)
		return
	}
	// Record the cluster before waiting, so a timeout leaves it in state
	// (tainted) rather than orphaned.
	plan.fill(cl)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cl, err = r.client.WaitClusterRunning(waitCtx, env, cl.GetId())
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("wait for Kafka cluster %s to be RUNNING (timeout %s)", plan.ID.ValueString(), timeout), err)
		return
	}
	plan.fill(cl)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *kafkaClusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state kafkaClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cl, err := r.client.GetCluster(ctx, state.EnvironmentID.ValueString(), state.ID.ValueString())
	if isNotFound(err) || (err == nil && cl.GetStatus().GetPhase() == sdk.PhaseDeleting) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "read Kafka cluster "+state.ID.ValueString(), err)
		return
	}
	state.fill(cl)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *kafkaClusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state kafkaClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	paths := []string{"display_name"}
	spec := &sdk.ClusterSpec{}
	if !plan.Plan.IsUnknown() && !plan.Plan.Equal(state.Plan) {
		spec.Plan = plan.Plan.ValueString()
		paths = append(paths, "spec.plan")
	}
	resize := !plan.Brokers.Equal(state.Brokers)
	if resize {
		spec.Brokers = int32(plan.Brokers.ValueInt64())
		paths = append(paths, "spec.brokers")
	}
	env, id := state.EnvironmentID.ValueString(), state.ID.ValueString()
	cl, err := r.client.UpdateCluster(ctx, env, &sdk.Cluster{
		Id: id, DisplayName: plan.DisplayName.ValueString(), Spec: spec,
	}, paths...)
	if err != nil {
		apiError(&resp.Diagnostics, "update Kafka cluster "+id, err)
		return
	}
	if resize {
		timeout, diags := plan.Timeouts.Update(ctx, defaultClusterCreateTimeout)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
		waitCtx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if _, err := r.client.WaitOperation(waitCtx, cl.GetStatus().GetOperationId()); err != nil {
			apiError(&resp.Diagnostics, fmt.Sprintf("wait for Kafka cluster %s to have %d brokers (timeout %s)", id, spec.Brokers, timeout), err)
			return
		}
		if cl, err = r.client.GetCluster(ctx, env, id); err != nil {
			apiError(&resp.Diagnostics, "read Kafka cluster "+id, err)
			return
		}
	}
	plan.fill(cl)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// ModifyPlan leaves the bootstrap servers unknown when a resize changes
// the brokers they list.
func (r *kafkaClusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var plan, state kafkaClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || plan.Brokers.Equal(state.Brokers) {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("bootstrap_servers"), types.StringUnknown())...)
}

func (r *kafkaClusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state kafkaClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultClusterCreateTimeout)
	resp.Diagnostics.Append(diags...)
	env, id := state.EnvironmentID.ValueString(), state.ID.ValueString()
	if _, err := r.client.DeleteCluster(ctx, env, id); err != nil {
		if !isNotFound(err) {
			apiError(&resp.Diagnostics, "delete Kafka cluster "+id, err)
		}
		return
	}
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := r.client.WaitClusterDeleted(waitCtx, env, id); err != nil && !isNotFound(err) {
		apiError(&resp.Diagnostics, "wait for Kafka cluster "+id+" to be deleted", err)
	}
}

func (r *kafkaClusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts, err := splitID(req.ID, 2, "<environment id>/<cluster id>, e.g. env-abc123/lkc-def456")
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("environment_id"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), parts[1])...)
}
