package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"

	"github.com/affluent-io/affluent/sdk"
)

func newAPIKeyDataSource() datasource.DataSource {
	return &lookupDataSource[apiKeyModel]{
		typeName: "api_key", resource: newAPIKeyResource, keys: []string{"id"},
		read: func(ctx context.Context, c *sdk.Client, m *apiKeyModel) error {
			key, err := c.GetAPIKey(ctx, m.ID.ValueString())
			if err == nil {
				m.fill(key) // the secret stays null: the API shows it only at create
			}
			return err
		},
	}
}
