# A Kafka API key for one cluster, acting as a service account.
resource "affluent_api_key" "orders_app_kafka" {
  display_name = "orders-app-kafka"
  owner        = affluent_service_account.orders_app.id
  resource     = affluent_kafka_cluster.main.id # or "cloud" for a cloud API key
}

output "orders_app_kafka_secret" {
  value     = affluent_api_key.orders_app_kafka.secret
  sensitive = true
}
