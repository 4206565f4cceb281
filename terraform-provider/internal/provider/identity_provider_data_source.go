package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"

	"github.com/affluent-io/affluent/sdk"
)

func newIdentityProviderDataSource() datasource.DataSource {
	return &lookupDataSource[identityProviderModel]{
		typeName: "identity_provider", resource: newIdentityProviderResource, keys: []string{"id"},
		read: func(ctx context.Context, c *sdk.Client, m *identityProviderModel) error {
			p, err := c.GetIdentityProvider(ctx, m.ID.ValueString())
			if err == nil {
				m.fill(p)
			}
			return err
		},
	}
}
