package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

// testAccKafkaTopicConfig is a topic of the dev cluster; configs is HCL
// for the map's body ("" for none).
func testAccKafkaTopicConfig(name string, partitions int, configs string) string {
	cfgs := ""
	if configs != "" {
		cfgs = "configs = {\n" + configs + "\n}"
	}
	return providerConfig + fmt.Sprintf(`
resource "affluent_kafka_topic" "test" {
  environment_id   = %q
  cluster_id       = %q
  topic_name       = %q
  partitions_count = %d
  %s
}
`, devCreds.EnvironmentID, devCreds.ClusterID, name, partitions, cfgs)
}

func TestAccKafkaTopicResource(t *testing.T) {
	const addr = "affluent_kafka_topic.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: testAccKafkaTopicConfig("tf-orders", 3, `"retention.ms" = "3600000"`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "id", devCreds.EnvironmentID+"/"+devCreds.ClusterID+"/tf-orders"),
					resource.TestCheckResourceAttr(addr, "partitions_count", "3"),
					resource.TestCheckResourceAttr(addr, "configs.retention.ms", "3600000"),
					resource.TestCheckResourceAttrSet(addr, "topic_id"),
				),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				// 3 → 6 partitions and a config change, in place.
				Config: testAccKafkaTopicConfig("tf-orders", 6, `"retention.ms" = "7200000"
"cleanup.policy" = "compact"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "partitions_count", "6"),
					resource.TestCheckResourceAttr(addr, "configs.retention.ms", "7200000"),
					resource.TestCheckResourceAttr(addr, "configs.cleanup.policy", "compact"),
				),
			},
			{
				// A config removed from the map is reset to the default.
				Config: testAccKafkaTopicConfig("tf-orders", 6, `"cleanup.policy" = "compact"`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckNoResourceAttr(addr, "configs.retention.ms"),
					resource.TestCheckResourceAttr(addr, "configs.%", "1"),
				),
			},
			{
				// 6 → 2 is refused at plan time.
				Config:      testAccKafkaTopicConfig("tf-orders", 2, `"cleanup.policy" = "compact"`),
				ExpectError: regexp.MustCompile(`(?s)Cannot decrease partitions_count.*cannot go down to 2`),
			},
			{
				// A new name replaces the topic.
				Config: testAccKafkaTopicConfig("tf-orders-v2", 6, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.TestCheckNoResourceAttr(addr, "configs.%"),
			},
			{
				// Deleted outside Terraform: refresh drops it, the plan recreates it.
				PreConfig: func() {
					if err := testClient.DeleteTopic(context.Background(), devCreds.EnvironmentID, devCreds.ClusterID, "tf-orders-v2"); err != nil {
						t.Fatalf("delete topic out of band: %v", err)
					}
				},
				Config:             testAccKafkaTopicConfig("tf-orders-v2", 6, ""),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

func TestAccKafkaTopicResourceValidation(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      testAccKafkaTopicConfig("bad name!", 1, ""),
			ExpectError: regexp.MustCompile(`must be 1 to 249 of`),
		}},
	})
}
