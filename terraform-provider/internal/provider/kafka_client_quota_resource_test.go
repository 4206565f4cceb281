package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

func testAccKafkaClientQuotaConfig(name string, ingress int) string {
	return providerConfig + fmt.Sprintf(`
resource "affluent_service_account" "test" {
  display_name = "tf-quota-principal"
}

resource "affluent_kafka_client_quota" "test" {
  environment_id    = %q
  cluster_id        = %q
  display_name      = %q
  principals        = [affluent_service_account.test.principal]
  ingress_byte_rate = %d
}
`, devCreds.EnvironmentID, devCreds.ClusterID, name, ingress)
}

func TestAccKafkaClientQuotaResource(t *testing.T) {
	const addr = "affluent_kafka_client_quota.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: testAccKafkaClientQuotaConfig("tf-quota", 1048576),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr(addr, "quota_id", regexp.MustCompile(`^cq-`)),
					resource.TestCheckResourceAttr(addr, "ingress_byte_rate", "1048576"),
					resource.TestCheckResourceAttr(addr, "egress_byte_rate", "0"),
					resource.TestCheckResourceAttr(addr, "principals.#", "1"),
				),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				Config: testAccKafkaClientQuotaConfig("tf-quota-2", 2097152),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "display_name", "tf-quota-2"),
					resource.TestCheckResourceAttr(addr, "ingress_byte_rate", "2097152"),
				),
			},
		},
	})
}
