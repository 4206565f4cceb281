package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccDataSources reads objects the dev platform bootstrapped and one
// this test creates.
func TestAccDataSources(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: providerConfig + fmt.Sprintf(`
data "affluent_environment" "dev" {
  id = %[1]q
}

data "affluent_kafka_cluster" "dev" {
  environment_id = data.affluent_environment.dev.id
  id             = %[2]q
}

resource "affluent_service_account" "test" {
  display_name = "tf-ds-sa"
}

data "affluent_service_account" "test" {
  id = affluent_service_account.test.id
}

resource "affluent_kafka_topic" "test" {
  environment_id   = data.affluent_environment.dev.id
  cluster_id       = data.affluent_kafka_cluster.dev.id
  topic_name       = "tf-ds-topic"
  partitions_count = 2
}

resource "affluent_api_key" "test" {
  owner    = affluent_service_account.test.id
  resource = "cloud"
}

data "affluent_api_key" "test" {
  id = affluent_api_key.test.id
}

resource "affluent_role_binding" "test" {
  principal   = affluent_service_account.test.principal
  role_name   = "MetricsViewer"
  crn_pattern = "crn://affluent/organization=%[3]s/environment=%[1]s"
}

data "affluent_role_binding" "test" {
  id = affluent_role_binding.test.id
}

resource "affluent_kafka_acl" "test" {
  environment_id = data.affluent_environment.dev.id
  cluster_id     = data.affluent_kafka_cluster.dev.id
  resource_type  = "GROUP"
  resource_name  = "tf-ds-group"
  principal      = affluent_service_account.test.principal
  operation      = "READ"
  permission     = "ALLOW"
}

data "affluent_kafka_acl" "test" {
  environment_id = affluent_kafka_acl.test.environment_id
  cluster_id     = affluent_kafka_acl.test.cluster_id
  acl_id         = affluent_kafka_acl.test.acl_id
}

resource "affluent_kafka_client_quota" "test" {
  environment_id   = data.affluent_environment.dev.id
  cluster_id       = data.affluent_kafka_cluster.dev.id
  display_name     = "tf-ds-quota"
  principals       = [affluent_service_account.test.principal]
  egress_byte_rate = 1000
}

data "affluent_kafka_client_quota" "test" {
  environment_id = affluent_kafka_client_quota.test.environment_id
  cluster_id     = affluent_kafka_client_quota.test.cluster_id
  quota_id       = affluent_kafka_client_quota.test.quota_id
}

resource "affluent_identity_provider" "test" {
  display_name = "tf-ds-idp"
  issuer       = "https://idp.example.com"
  jwks_uri     = "https://idp.example.com/jwks"
}

data "affluent_identity_provider" "test" {
  id = affluent_identity_provider.test.id
}

resource "affluent_identity_pool" "test" {
  identity_provider_id = affluent_identity_provider.test.id
  display_name         = "tf-ds-pool"
  identity_claim       = "claims.sub"
  filter               = "claims.aud == \"kafka\""
}

data "affluent_identity_pool" "test" {
  identity_provider_id = affluent_identity_pool.test.identity_provider_id
  pool_id              = affluent_identity_pool.test.pool_id
}

data "affluent_kafka_topic" "test" {
  environment_id = affluent_kafka_topic.test.environment_id
  cluster_id     = affluent_kafka_topic.test.cluster_id
  topic_name     = affluent_kafka_topic.test.topic_name
}
`, devCreds.EnvironmentID, devCreds.ClusterID, devCreds.OrganizationID),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttrSet("data.affluent_environment.dev", "display_name"),
				resource.TestCheckResourceAttr("data.affluent_kafka_cluster.dev", "phase", "RUNNING"),
				resource.TestCheckResourceAttrSet("data.affluent_kafka_cluster.dev", "bootstrap_servers"),
				resource.TestCheckResourceAttrPair("data.affluent_service_account.test", "principal", "affluent_service_account.test", "principal"),
				resource.TestCheckResourceAttr("data.affluent_kafka_topic.test", "partitions_count", "2"),
				resource.TestCheckResourceAttr("data.affluent_api_key.test", "resource", "cloud"),
				resource.TestCheckNoResourceAttr("data.affluent_api_key.test", "secret"),
				resource.TestCheckResourceAttr("data.affluent_role_binding.test", "role_name", "MetricsViewer"),
				resource.TestCheckResourceAttr("data.affluent_kafka_acl.test", "resource_type", "GROUP"),
				resource.TestCheckResourceAttr("data.affluent_kafka_client_quota.test", "egress_byte_rate", "1000"),
				resource.TestCheckResourceAttr("data.affluent_identity_provider.test", "issuer", "https://idp.example.com"),
				resource.TestCheckResourceAttrPair("data.affluent_identity_pool.test", "principal", "affluent_identity_pool.test", "principal"),
			),
		}},
	})
}

func TestAccDataSourceNotFound(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      providerConfig + `data "affluent_environment" "missing" { id = "env-doesnotexist" }`,
			ExpectError: regexp.MustCompile(`(?i)not.found`),
		}},
	})
}
