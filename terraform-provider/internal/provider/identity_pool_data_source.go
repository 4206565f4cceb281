package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"

	"github.com/affluent-io/affluent/sdk"
)

func newIdentityPoolDataSource() datasource.DataSource {
	return &lookupDataSource[identityPoolModel]{
		typeName: "identity_pool", resource: newIdentityPoolResource, keys: []string{"identity_provider_id", "pool_id"},
		read: func(ctx context.Context, c *sdk.Client, m *identityPoolModel) error {
			provider := m.IdentityProviderID.ValueString()
			p, err := c.GetIdentityPool(ctx, provider, m.PoolID.ValueString())
			if err == nil {
				m.fill(provider, p)
			}
			return err
		},
	}
}
