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

# A DEDICATED cluster has brokers of its own; changing brokers resizes it
# in place, one broker at a time.
resource "affluent_kafka_cluster" "payments" {
  environment_id = affluent_environment.staging.id
  display_name   = "payments"
  type           = "DEDICATED"
  brokers        = 3

  timeouts {
    create = "30m"
    update = "30m"
  }
}
