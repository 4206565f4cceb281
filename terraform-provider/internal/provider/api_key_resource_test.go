package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

func testAccAPIKeyConfig(name, resourceExpr string) string {
	return providerConfig + fmt.Sprintf(`
resource "affluent_service_account" "test" {
  display_name = "tf-key-owner"
}

resource "affluent_api_key" "test" {
  display_name = %q
  owner        = affluent_service_account.test.id
  resource     = %s
}
`, name, resourceExpr)
}

func TestAccAPIKeyResource(t *testing.T) {
	const addr = "affluent_api_key.test"
	cluster := fmt.Sprintf("%q", devCreds.ClusterID)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: testAccAPIKeyConfig("tf-key", `"cloud"`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr(addr, "id", regexp.MustCompile(`^[A-Z0-9]{16}$`)),
					resource.TestMatchResourceAttr(addr, "secret", regexp.MustCompile(`^.{64}$`)),
					resource.TestCheckResourceAttr(addr, "resource", "cloud"),
				),
			},
			// The API never shows the secret again, so an import has none.
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"secret"}},
			{
				Config: testAccAPIKeyConfig("tf-key-renamed", `"cloud"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "display_name", "tf-key-renamed"),
					resource.TestMatchResourceAttr(addr, "secret", regexp.MustCompile(`^.{64}$`)), // kept
				),
			},
			{
				Config: testAccAPIKeyConfig("tf-key-renamed", cluster),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "resource", devCreds.ClusterID),
					resource.TestMatchResourceAttr(addr, "secret", regexp.MustCompile(`^.{64}$`)),
				),
			},
		},
	})
}
