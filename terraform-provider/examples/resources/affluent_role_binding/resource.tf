variable "organization_id" {
  type = string
}

# DeveloperWrite on the topic orders of one cluster.
resource "affluent_role_binding" "orders_write" {
  principal   = affluent_service_account.orders_app.principal
  role_name   = "DeveloperWrite"
  crn_pattern = "crn://affluent/organization=${var.organization_id}/environment=${affluent_environment.staging.id}/cloud-cluster=${affluent_kafka_cluster.main.id}/kafka=${affluent_kafka_cluster.main.id}/topic=orders"
}
