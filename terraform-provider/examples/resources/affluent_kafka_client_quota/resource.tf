resource "affluent_kafka_client_quota" "orders_app" {
  environment_id    = affluent_kafka_cluster.main.environment_id
  cluster_id        = affluent_kafka_cluster.main.id
  display_name      = "orders-app"
  description       = "Throughput limit of the orders app"
  principals        = [affluent_service_account.orders_app.principal]
  ingress_byte_rate = 10485760 # bytes/s produced
  egress_byte_rate  = 20971520 # bytes/s fetched
}
