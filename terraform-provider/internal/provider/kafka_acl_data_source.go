package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"

	"github.com/affluent-io/affluent/sdk"
)

func newKafkaACLDataSource() datasource.DataSource {
	return &lookupDataSource[kafkaACLModel]{
		typeName: "kafka_acl", resource: newKafkaACLResource, keys: []string{"environment_id", "cluster_id", "acl_id"},
		read: func(ctx context.Context, c *sdk.Client, m *kafkaACLModel) error {
			env, cluster := m.EnvironmentID.ValueString(), m.ClusterID.ValueString()
			a, err := c.GetACL(ctx, env, cluster, m.ACLID.ValueString())
			if err == nil {
				m.fill(env, cluster, a)
			}
			return err
		},
	}
}
