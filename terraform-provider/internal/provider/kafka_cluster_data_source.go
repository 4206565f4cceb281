package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/affluent-io/affluent/sdk"
)

// kafkaClusterDataModel is kafkaClusterModel without the timeouts block.
type kafkaClusterDataModel struct {
	ID               types.String `tfsdk:"id"`
	EnvironmentID    types.String `tfsdk:"environment_id"`
	DisplayName      types.String `tfsdk:"display_name"`
	Type             types.String `tfsdk:"type"`
	Cloud            types.String `tfsdk:"cloud"`
	Region           types.String `tfsdk:"region"`
	Plan             types.String `tfsdk:"plan"`
	Brokers          types.Int64  `tfsdk:"brokers"`
	Phase            types.String `tfsdk:"phase"`
	BootstrapServers types.String `tfsdk:"bootstrap_servers"`
	RestEndpoint     types.String `tfsdk:"rest_endpoint"`
	CreateTime       types.String `tfsdk:"create_time"`
}

func newKafkaClusterDataSource() datasource.DataSource {
	return &lookupDataSource[kafkaClusterDataModel]{
		typeName: "kafka_cluster", resource: newKafkaClusterResource, keys: []string{"environment_id", "id"},
		read: func(ctx context.Context, c *sdk.Client, m *kafkaClusterDataModel) error {
			cl, err := c.GetCluster(ctx, m.EnvironmentID.ValueString(), m.ID.ValueString())
			if err != nil {
				return err
			}
			var r kafkaClusterModel
			r.fill(cl)
			*m = kafkaClusterDataModel{
				ID: r.ID, EnvironmentID: r.EnvironmentID, DisplayName: r.DisplayName, Type: r.Type, Cloud: r.Cloud,
				Region: r.Region, Plan: r.Plan, Brokers: r.Brokers, Phase: r.Phase, BootstrapServers: r.BootstrapServers,
				RestEndpoint: r.RestEndpoint, CreateTime: r.CreateTime,
			}
			return nil
		},
	}
}
