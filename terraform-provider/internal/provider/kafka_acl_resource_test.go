package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

func testAccKafkaACLConfig(operation string) string {
	return providerConfig + fmt.Sprintf(`
resource "affluent_service_account" "test" {
  display_name = "tf-acl-principal"
}

resource "affluent_kafka_acl" "test" {
  environment_id = %q
  cluster_id     = %q
  resource_type  = "TOPIC"
  resource_name  = "orders-"
  pattern_type   = "PREFIXED"
  principal      = affluent_service_account.test.principal
  operation      = %q
  permission     = "ALLOW"
}
`, devCreds.EnvironmentID, devCreds.ClusterID, operation)
}

func TestAccKafkaACLResource(t *testing.T) {
	const addr = "affluent_kafka_acl.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: testAccKafkaACLConfig("READ"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrSet(addr, "acl_id"),
					resource.TestCheckResourceAttr(addr, "host", "*"),
				),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				Config: testAccKafkaACLConfig("WRITE"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.TestCheckResourceAttr(addr, "operation", "WRITE"),
			},
		},
	})
}
