package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

func testAccIdentityProviderConfig(name, issuer string) string {
	return providerConfig + fmt.Sprintf(`
resource "affluent_identity_provider" "test" {
  display_name = %q
  issuer       = %q
  jwks_uri     = "https://idp.example.com/.well-known/jwks.json"
}
`, name, issuer)
}

func TestAccIdentityProviderResource(t *testing.T) {
	const addr = "affluent_identity_provider.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: testAccIdentityProviderConfig("tf-idp", "https://idp.example.com"),
				Check:  resource.TestMatchResourceAttr(addr, "id", regexp.MustCompile(`^idp-`)),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				Config: testAccIdentityProviderConfig("tf-idp-2", "https://login.example.com"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: resource.TestCheckResourceAttr(addr, "issuer", "https://login.example.com"),
			},
		},
	})
}
