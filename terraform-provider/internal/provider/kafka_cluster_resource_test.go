package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

func testAccKafkaClusterConfig(name, region string) string {
	return providerConfig + fmt.Sprintf(`
resource "affluent_environment" "test" {
  display_name = "tf-cluster-env"
}

resource "affluent_kafka_cluster" "test" {
  environment_id = affluent_environment.test.id
  display_name   = %q
  region         = %q
  timeouts {
    create = "5m"
  }
}
`, name, region)
}

func TestAccKafkaClusterResource(t *testing.T) {
	const addr = "affluent_kafka_cluster.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: testAccKafkaClusterConfig("tf-cluster", "local"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr(addr, "id", regexp.MustCompile(`^lkc-`)),
					resource.TestCheckResourceAttr(addr, "phase", "RUNNING"),
					resource.TestCheckResourceAttr(addr, "cloud", "LOCAL"),
					resource.TestCheckResourceAttr(addr, "type", "SERVERLESS"),
					resource.TestCheckResourceAttrSet(addr, "bootstrap_servers"),
				),
			},
			{
				ResourceName: addr, ImportState: true, ImportStateVerify: true,
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					r := s.RootModule().Resources[addr].Primary
					return r.Attributes["environment_id"] + "/" + r.ID, nil
				},
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				Config: testAccKafkaClusterConfig("tf-cluster-renamed", "local"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: resource.TestCheckResourceAttr(addr, "display_name", "tf-cluster-renamed"),
			},
			{
				Config: testAccKafkaClusterConfig("tf-cluster-renamed", "eu-west-1"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.TestCheckResourceAttr(addr, "region", "eu-west-1"),
			},
		},
	})
}

func TestAccKafkaClusterResourceBadImportID(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:        providerConfig + `resource "affluent_kafka_cluster" "test" {}`,
			ResourceName:  "affluent_kafka_cluster.test",
			ImportState:   true,
			ImportStateId: "lkc-only",
			ExpectError:   regexp.MustCompile(`<environment id>/<cluster id>`),
		}},
	})
}

func testAccDedicatedClusterConfig(brokers int) string {
	return providerConfig + fmt.Sprintf(`
resource "affluent_environment" "test" {
  display_name = "tf-dedicated-env"
}

resource "affluent_kafka_cluster" "test" {
  environment_id = affluent_environment.test.id
  display_name   = "tf-dedicated"
  type           = "DEDICATED"
  brokers        = %d
  timeouts {
    create = "5m"
    update = "5m"
  }
}

data "affluent_kafka_cluster" "test" {
  environment_id = affluent_environment.test.id
  id             = affluent_kafka_cluster.test.id
}
`, brokers)
}

// TestAccKafkaClusterDedicated creates a DEDICATED cluster (its brokers are
// processes of the affluent binary), resizes it in place to 2 brokers and
// back, imports it, and checks that brokers is refused out of range.
func TestAccKafkaClusterDedicated(t *testing.T) {
	const addr = "affluent_kafka_cluster.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      testAccDedicatedClusterConfig(33),
				ExpectError: regexp.MustCompile(`between 1 and 32`),
			},
			{
				Config: testAccDedicatedClusterConfig(1),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "type", "DEDICATED"),
					resource.TestCheckResourceAttr(addr, "brokers", "1"),
					resource.TestCheckResourceAttr(addr, "phase", "RUNNING"),
					resource.TestMatchResourceAttr(addr, "bootstrap_servers", regexp.MustCompile(`^127\.0\.0\.1:\d+$`)),
					resource.TestCheckResourceAttr("data.affluent_kafka_cluster.test", "brokers", "1"),
				),
			},
			{
				Config: testAccDedicatedClusterConfig(2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "brokers", "2"),
					resource.TestMatchResourceAttr(addr, "bootstrap_servers", regexp.MustCompile(`^127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$`)),
				),
			},
			{
				ResourceName: addr, ImportState: true, ImportStateVerify: true,
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					r := s.RootModule().Resources[addr].Primary
					return r.Attributes["environment_id"] + "/" + r.ID, nil
				},
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				Config: testAccDedicatedClusterConfig(1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "brokers", "1"),
					resource.TestMatchResourceAttr(addr, "bootstrap_servers", regexp.MustCompile(`^127\.0\.0\.1:\d+$`)),
				),
			},
		},
	})
}
