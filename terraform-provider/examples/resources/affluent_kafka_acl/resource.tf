resource "affluent_kafka_acl" "orders_write" {
  environment_id = affluent_kafka_cluster.main.environment_id
  cluster_id     = affluent_kafka_cluster.main.id
  resource_type  = "TOPIC"
  resource_name  = "orders"
  pattern_type   = "LITERAL"
  principal      = affluent_service_account.orders_app.principal
  host           = "*"
  operation      = "WRITE"
  permission     = "ALLOW"
}
