output "environment_id" {
  value = affluent_environment.this.id
}

output "cluster_id" {
  value = affluent_kafka_cluster.this.id
}

output "bootstrap_servers" {
  value = affluent_kafka_cluster.this.bootstrap_servers
}

output "service_account_id" {
  value = affluent_service_account.app.id
}

output "api_key_id" {
  value = affluent_api_key.app.id
}

output "api_key_secret" {
  value     = affluent_api_key.app.secret
  sensitive = true
}
