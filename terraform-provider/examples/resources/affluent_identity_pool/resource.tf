resource "affluent_identity_pool" "kafka_apps" {
  identity_provider_id = affluent_identity_provider.corp.id
  display_name         = "kafka-apps"
  description          = "Workloads with a Kafka audience"
  identity_claim       = "claims.sub"
  filter               = "claims.aud == \"kafka\""
}
