resource "affluent_kafka_cluster" "main" {
  environment_id = affluent_environment.staging.id
  display_name   = "main"
  type           = "SERVERLESS"
  cloud          = "LOCAL"
  region         = "local"
  plan           = "BASIC"

  timeouts {
    create = "30m"
  }
}
