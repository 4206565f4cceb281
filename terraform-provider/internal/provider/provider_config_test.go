package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccProviderConfig checks the provider block wins over the environment
// and that missing credentials are reported by name.
func TestAccProviderConfig(t *testing.T) {
	t.Setenv("AFFLUENT_ENDPOINT", "127.0.0.1:1") // wrong: the block must win
	explicit := fmt.Sprintf(`
provider "affluent" {
  endpoint   = %q
  api_key    = %q
  api_secret = %q
  insecure   = true
}

data "affluent_environment" "dev" {
  id = %q
}
`, grpcAddr, devCreds.CloudAPIKey, devCreds.CloudAPISecret, devCreds.EnvironmentID)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: explicit,
			Check:  resource.TestCheckResourceAttr("data.affluent_environment.dev", "id", devCreds.EnvironmentID),
		}},
	})
}

func TestAccProviderMissingCredentials(t *testing.T) {
	t.Setenv("AFFLUENT_API_KEY", "")
	t.Setenv("AFFLUENT_API_SECRET", "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      providerConfig + `resource "affluent_environment" "x" { display_name = "x" }`,
			ExpectError: regexp.MustCompile(`Missing api_key`),
		}},
	})
}

func TestAccProviderBadCredentials(t *testing.T) {
	t.Setenv("AFFLUENT_API_SECRET", "wrong")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      providerConfig + `resource "affluent_environment" "x" { display_name = "x" }`,
			ExpectError: regexp.MustCompile(`Cannot create environment`),
		}},
	})
}
