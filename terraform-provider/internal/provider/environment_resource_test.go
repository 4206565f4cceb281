package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

func testAccEnvironmentConfig(name, description string) string {
	desc := ""
	if description != "" {
		desc = fmt.Sprintf("description = %q", description)
	}
	return providerConfig + fmt.Sprintf(`
resource "affluent_environment" "test" {
  display_name = %q
  %s
}
`, name, desc)
}

func TestAccEnvironmentResource(t *testing.T) {
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: testAccEnvironmentConfig("tf-env", ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr("affluent_environment.test", "id", regexp.MustCompile(`^env-`)),
					resource.TestCheckResourceAttr("affluent_environment.test", "display_name", "tf-env"),
					resource.TestCheckNoResourceAttr("affluent_environment.test", "description"),
					resource.TestCheckResourceAttrSet("affluent_environment.test", "create_time"),
					func(s *terraform.State) error {
						id = s.RootModule().Resources["affluent_environment.test"].Primary.ID
						return nil
					},
				),
			},
			{ResourceName: "affluent_environment.test", ImportState: true, ImportStateVerify: true},
			{
				Config: testAccEnvironmentConfig("tf-env-renamed", "for terraform"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrPtr("affluent_environment.test", "id", &id), // in place
					resource.TestCheckResourceAttr("affluent_environment.test", "display_name", "tf-env-renamed"),
					resource.TestCheckResourceAttr("affluent_environment.test", "description", "for terraform"),
				),
			},
			{
				// Deleted outside Terraform: refresh drops it and the plan recreates it.
				PreConfig: func() {
					if err := testClient.DeleteEnvironment(context.Background(), id); err != nil {
						t.Fatalf("delete environment out of band: %v", err)
					}
				},
				Config:             testAccEnvironmentConfig("tf-env-renamed", "for terraform"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{Config: testAccEnvironmentConfig("tf-env", "")},
		},
	})
}

func TestAccEnvironmentResourceValidation(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      testAccEnvironmentConfig("", ""),
			ExpectError: regexp.MustCompile(`length must be between 1 and 64`),
		}},
	})
}
