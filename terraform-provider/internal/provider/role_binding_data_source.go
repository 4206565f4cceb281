package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"

	"github.com/affluent-io/affluent/sdk"
)

func newRoleBindingDataSource() datasource.DataSource {
	return &lookupDataSource[roleBindingModel]{
		typeName: "role_binding", resource: newRoleBindingResource, keys: []string{"id"},
		read: func(ctx context.Context, c *sdk.Client, m *roleBindingModel) error {
			rb, err := c.GetRoleBinding(ctx, m.ID.ValueString())
			if err == nil {
				m.fill(rb)
			}
			return err
		},
	}
}
