package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

func testAccIdentityPoolConfig(name, filter string) string {
	return providerConfig + fmt.Sprintf(`
resource "affluent_identity_provider" "test" {
  display_name = "tf-pool-idp"
  issuer       = "https://idp.example.com"
  jwks_uri     = "https://idp.example.com/.well-known/jwks.json"
}

resource "affluent_identity_pool" "test" {
  identity_provider_id = affluent_identity_provider.test.id
  display_name         = %q
  identity_claim       = "claims.sub"
  filter               = %q
}
`, name, filter)
}

func TestAccIdentityPoolResource(t *testing.T) {
	const addr = "affluent_identity_pool.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: testAccIdentityPoolConfig("tf-pool", `claims.aud == "kafka"`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr(addr, "pool_id", regexp.MustCompile(`^pool-`)),
					resource.TestMatchResourceAttr(addr, "principal", regexp.MustCompile(`^User:pool-`)),
				),
			},
			{
				ResourceName: addr, ImportState: true, ImportStateVerify: true,
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					return s.RootModule().Resources[addr].Primary.ID, nil
				},
			},
			{
				Config: testAccIdentityPoolConfig("tf-pool-2", `claims.aud == "kafka" && has(claims.group)`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: resource.TestCheckResourceAttr(addr, "display_name", "tf-pool-2"),
			},
		},
	})
}
