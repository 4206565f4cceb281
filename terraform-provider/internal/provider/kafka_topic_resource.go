package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/affluent-io/affluent/sdk"
)

var (
	_ resource.Resource                = (*kafkaTopicResource)(nil)
	_ resource.ResourceWithConfigure   = (*kafkaTopicResource)(nil)
	_ resource.ResourceWithImportState = (*kafkaTopicResource)(nil)
)

func newKafkaTopicResource() resource.Resource { return &kafkaTopicResource{} }

type kafkaTopicResource struct{ clientResource }

type kafkaTopicModel struct {
	ID              types.String `tfsdk:"id"`
	EnvironmentID   types.String `tfsdk:"environment_id"`
	ClusterID       types.String `tfsdk:"cluster_id"`
	TopicName       types.String `tfsdk:"topic_name"`
	PartitionsCount types.Int64  `tfsdk:"partitions_count"`
	Configs         types.Map    `tfsdk:"configs"`
	TopicID         types.String `tfsdk:"topic_id"`
}

func (r *kafkaTopicResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_kafka_topic"
}

func (r *kafkaTopicResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "A Kafka topic. Its id, and the import id, is `<environment id>/<cluster id>/<topic name>`: " +
			"`terraform import affluent_kafka_topic.x env-abc123/lkc-def456/orders`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, Description: "`<environment id>/<cluster id>/<topic name>`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"environment_id": schema.StringAttribute{
				Required: true, Description: "Environment of the cluster, `env-…`. Changing it replaces the topic.",
				PlanModifiers: replace, Validators: []validator.String{prefixed("env-")},
			},
			"cluster_id": schema.StringAttribute{
				Required: true, Description: "Cluster of the topic, `lkc-…`. Changing it replaces the topic.",
				PlanModifiers: replace, Validators: []validator.String{prefixed("lkc-")},
			},
			"topic_name": schema.StringAttribute{
				Required: true, Description: "Kafka topic name: 1 to 249 of [a-zA-Z0-9._-], not `.` or `..`. Changing it replaces the topic.",
				PlanModifiers: replace,
				Validators: []validator.String{
					stringvalidator.RegexMatches(topicNameRE, "must be 1 to 249 of [a-zA-Z0-9._-]"),
					stringvalidator.NoneOf(".", ".."),
				},
			},
			"partitions_count": schema.Int64Attribute{
				Optional: true, Computed: true,
				Description: "Number of partitions (default 6). It may grow in place; Kafka cannot remove partitions, " +
					"so a smaller value is refused at plan time (replace the topic instead, with `terraform apply -replace`).",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown(), partitionsOnlyGrow{}},
				Validators:    []validator.Int64{int64validator.Between(1, 100000)},
			},
			"configs": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				Description: "Topic configs set explicitly, for example `cleanup.policy` or `retention.ms`. Updatable; " +
					"a key removed here is reset to the broker's default.",
			},
			"topic_id": schema.StringAttribute{
				Computed: true, Description: "The Kafka topic id (UUID).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

// partitionsOnlyGrow refuses, at plan time, a partitions_count below the
// current one: Kafka can add partitions but not remove them.
type partitionsOnlyGrow struct{}

func (partitionsOnlyGrow) Description(context.Context) string {
	return "partitions_count may only grow"
}

func (m partitionsOnlyGrow) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (partitionsOnlyGrow) PlanModifyInt64(_ context.Context, req planmodifier.Int64Request, resp *planmodifier.Int64Response) {
	if req.StateValue.IsNull() || req.PlanValue.IsNull() || req.PlanValue.IsUnknown() {
		return
	}
	if have, want := req.StateValue.ValueInt64(), req.PlanValue.ValueInt64(); want < have {
		resp.Diagnostics.AddAttributeError(req.Path, "Cannot decrease partitions_count",
			fmt.Sprintf("The topic has %d partitions and Kafka cannot remove partitions, so partitions_count cannot go down to %d. "+
				"Keep %d or more, or recreate the topic (its records are lost) with `terraform apply -replace=<address>`.", have, want, have))
	}
}

func (m *kafkaTopicModel) fill(env, cluster string, t *sdk.Topic) {
	m.EnvironmentID = types.StringValue(env)
	m.ClusterID = types.StringValue(cluster)
	m.TopicName = types.StringValue(t.GetName())
	m.ID = types.StringValue(env + "/" + cluster + "/" + t.GetName())
	m.PartitionsCount = types.Int64Value(int64(t.GetPartitionsCount()))
	m.TopicID = types.StringValue(t.GetTopicId())
	if len(t.GetConfigs()) == 0 && m.Configs.IsNull() {
		return
	}
	m.Configs, _ = types.MapValueFrom(context.Background(), types.StringType, t.GetConfigs())
}

func configsOf(ctx context.Context, m types.Map) (map[string]string, error) {
	out := map[string]string{}
	if m.IsNull() || m.IsUnknown() {
		return out, nil
	}
	if d := m.ElementsAs(ctx, &out, false); d.HasError() {
		return nil, fmt.Errorf("configs: %v", d)
	}
	return out, nil
}

func (r *kafkaTopicResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan kafkaTopicModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	configs, err := configsOf(ctx, plan.Configs)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("configs"), "Invalid configs", err.Error())
		return
	}
	env, cluster := plan.EnvironmentID.ValueString(), plan.ClusterID.ValueString()
	t, err := r.client.CreateTopic(ctx, env, cluster, &sdk.Topic{
		Name: plan.TopicName.ValueString(), PartitionsCount: int32(plan.PartitionsCount.ValueInt64()), Configs: configs,
	})
	if err != nil {
		apiError(&resp.Diagnostics, "create Kafka topic "+plan.TopicName.ValueString(), err)
		return
	}
	plan.fill(env, cluster, t)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *kafkaTopicResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state kafkaTopicModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	env, cluster := state.EnvironmentID.ValueString(), state.ClusterID.ValueString()
	t, err := r.client.GetTopic(ctx, env, cluster, state.TopicName.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "read Kafka topic "+state.ID.ValueString(), err)
		return
	}
	state.fill(env, cluster, t)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *kafkaTopicResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state kafkaTopicModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	want, err := configsOf(ctx, plan.Configs)
	if err == nil {
		var have map[string]string
		if have, err = configsOf(ctx, state.Configs); err == nil {
			for k := range have {
				if _, ok := want[k]; !ok {
					want[k] = "" // reset to the broker's default
				}
			}
		}
	}
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("configs"), "Invalid configs", err.Error())
		return
	}
	env, cluster := state.EnvironmentID.ValueString(), state.ClusterID.ValueString()
	topic := &sdk.Topic{Name: state.TopicName.ValueString(), Configs: want}
	paths := []string{"configs"}
	if !plan.PartitionsCount.IsUnknown() && plan.PartitionsCount.ValueInt64() != state.PartitionsCount.ValueInt64() {
		topic.PartitionsCount = int32(plan.PartitionsCount.ValueInt64())
		paths = append(paths, "partitions_count")
	}
	t, err := r.client.UpdateTopic(ctx, env, cluster, topic, paths...)
	if err != nil {
		apiError(&resp.Diagnostics, "update Kafka topic "+state.ID.ValueString(), err)
		return
	}
	plan.fill(env, cluster, t)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *kafkaTopicResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state kafkaTopicModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.DeleteTopic(ctx, state.EnvironmentID.ValueString(), state.ClusterID.ValueString(), state.TopicName.ValueString())
	if err != nil && !isNotFound(err) {
		apiError(&resp.Diagnostics, "delete Kafka topic "+state.ID.ValueString(), err)
	}
}

func (r *kafkaTopicResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts, err := splitID(req.ID, 3, "<environment id>/<cluster id>/<topic name>, e.g. env-abc123/lkc-def456/orders")
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("environment_id"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cluster_id"), parts[1])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("topic_name"), parts[2])...)
}
