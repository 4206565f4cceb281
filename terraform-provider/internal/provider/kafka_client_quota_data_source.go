package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"

	"github.com/affluent-io/affluent/sdk"
)

func newKafkaClientQuotaDataSource() datasource.DataSource {
	return &lookupDataSource[kafkaClientQuotaModel]{
		typeName: "kafka_client_quota", resource: newKafkaClientQuotaResource, keys: []string{"environment_id", "cluster_id", "quota_id"},
		read: func(ctx context.Context, c *sdk.Client, m *kafkaClientQuotaModel) error {
			env, cluster := m.EnvironmentID.ValueString(), m.ClusterID.ValueString()
			q, err := c.GetClientQuota(ctx, env, cluster, m.QuotaID.ValueString())
			if err == nil {
				m.fill(ctx, env, cluster, q)
			}
			return err
		},
	}
}
