package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"

	"github.com/affluent-io/affluent/sdk"
)

func newServiceAccountDataSource() datasource.DataSource {
	return &lookupDataSource[serviceAccountModel]{
		typeName: "service_account", resource: newServiceAccountResource, keys: []string{"id"},
		read: func(ctx context.Context, c *sdk.Client, m *serviceAccountModel) error {
			sa, err := c.GetServiceAccount(ctx, m.ID.ValueString())
			if err == nil {
				m.fill(sa)
			}
			return err
		},
	}
}
