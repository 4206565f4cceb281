resource "affluent_kafka_topic" "orders" {
  environment_id   = affluent_kafka_cluster.main.environment_id
  cluster_id       = affluent_kafka_cluster.main.id
  topic_name       = "orders"
  partitions_count = 3
  configs = {
    "cleanup.policy" = "delete"
    "retention.ms"   = "604800000"
  }
}
