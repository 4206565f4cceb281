package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"

	"github.com/affluent-io/affluent/sdk"
)

func newKafkaTopicDataSource() datasource.DataSource {
	return &lookupDataSource[kafkaTopicModel]{
		typeName: "kafka_topic", resource: newKafkaTopicResource, keys: []string{"environment_id", "cluster_id", "topic_name"},
		read: func(ctx context.Context, c *sdk.Client, m *kafkaTopicModel) error {
			env, cluster := m.EnvironmentID.ValueString(), m.ClusterID.ValueString()
			t, err := c.GetTopic(ctx, env, cluster, m.TopicName.ValueString())
			if err == nil {
				m.fill(env, cluster, t)
			}
			return err
		},
	}
}
