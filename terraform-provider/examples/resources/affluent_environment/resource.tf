resource "affluent_environment" "staging" {
  display_name = "staging"
  description  = "Pre-production workloads"
}
