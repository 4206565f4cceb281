package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

func testAccServiceAccountConfig(name, description string) string {
	return providerConfig + fmt.Sprintf(`
resource "affluent_service_account" "test" {
  display_name = %q
  description  = %q
}
`, name, description)
}

func TestAccServiceAccountResource(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: testAccServiceAccountConfig("tf-sa", "orders app"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr("affluent_service_account.test", "id", regexp.MustCompile(`^sa-`)),
					resource.TestMatchResourceAttr("affluent_service_account.test", "principal", regexp.MustCompile(`^User:sa-`)),
					resource.TestCheckResourceAttr("affluent_service_account.test", "description", "orders app"),
				),
			},
			{ResourceName: "affluent_service_account.test", ImportState: true, ImportStateVerify: true},
			{
				Config: testAccServiceAccountConfig("tf-sa-2", "billing app"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("affluent_service_account.test", "display_name", "tf-sa-2"),
					resource.TestCheckResourceAttr("affluent_service_account.test", "description", "billing app"),
				),
			},
		},
	})
}
