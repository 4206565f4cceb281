package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"

	"github.com/affluent-io/affluent/sdk"
)

func newEnvironmentDataSource() datasource.DataSource {
	return &lookupDataSource[environmentModel]{
		typeName: "environment", resource: newEnvironmentResource, keys: []string{"id"},
		read: func(ctx context.Context, c *sdk.Client, m *environmentModel) error {
			env, err := c.GetEnvironment(ctx, m.ID.ValueString())
			if err == nil {
				m.fill(env)
			}
			return err
		},
	}
}
