package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

func testAccRoleBindingConfig(role string) string {
	return providerConfig + fmt.Sprintf(`
resource "affluent_service_account" "test" {
  display_name = "tf-rb-principal"
}

resource "affluent_role_binding" "test" {
  principal   = affluent_service_account.test.principal
  role_name   = %q
  crn_pattern = "crn://affluent/organization=%s/environment=%s"
}
`, role, devCreds.OrganizationID, devCreds.EnvironmentID)
}

func TestAccRoleBindingResource(t *testing.T) {
	const addr = "affluent_role_binding.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: testAccRoleBindingConfig("EnvironmentAdmin"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr(addr, "id", regexp.MustCompile(`^rb-`)),
					resource.TestCheckResourceAttr(addr, "role_name", "EnvironmentAdmin"),
				),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				// Role bindings are immutable: a new role replaces the binding.
				Config: testAccRoleBindingConfig("MetricsViewer"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.TestCheckResourceAttr(addr, "role_name", "MetricsViewer"),
			},
		},
	})
}

func TestAccRoleBindingResourceValidation(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      testAccRoleBindingConfig("Superuser"),
			ExpectError: regexp.MustCompile(`value must be one of`),
		}},
	})
}
