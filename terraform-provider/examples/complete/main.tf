# A complete setup: an environment with a serverless cluster, the topic
# orders, and a service account allowed to produce to it with its own Kafka
# API key, an ACL and a client quota.
#
# The provider reads AFFLUENT_ENDPOINT, AFFLUENT_API_KEY, AFFLUENT_API_SECRET
# and AFFLUENT_INSECURE from the environment; see ../../README.md.

terraform {
  required_providers {
    affluent = {
      source = "affluent-io/affluent"
    }
  }
}

provider "affluent" {}

resource "affluent_environment" "this" {
  display_name = "${var.name_prefix}-env"
  description  = "Created by examples/complete"
}

resource "affluent_kafka_cluster" "this" {
  environment_id = affluent_environment.this.id
  display_name   = "${var.name_prefix}-cluster"
  type           = "SERVERLESS"
  cloud          = var.cloud
  region         = var.region
}

resource "affluent_kafka_topic" "orders" {
  environment_id   = affluent_environment.this.id
  cluster_id       = affluent_kafka_cluster.this.id
  topic_name       = "orders"
  partitions_count = 3
}

resource "affluent_service_account" "app" {
  display_name = "${var.name_prefix}-orders-app"
  description  = "Producer of the orders topic"
}

# A Kafka API key for the cluster, acting as the service account.
resource "affluent_api_key" "app" {
  display_name = "${var.name_prefix}-orders-app"
  owner        = affluent_service_account.app.id
  resource     = affluent_kafka_cluster.this.id
}

locals {
  cluster_crn = "crn://affluent/organization=${var.organization_id}/environment=${affluent_environment.this.id}/cloud-cluster=${affluent_kafka_cluster.this.id}/kafka=${affluent_kafka_cluster.this.id}"
}

resource "affluent_role_binding" "app_write_orders" {
  principal   = affluent_service_account.app.principal
  role_name   = "DeveloperWrite"
  crn_pattern = "${local.cluster_crn}/topic=${affluent_kafka_topic.orders.topic_name}"
}

resource "affluent_kafka_acl" "app_write_orders" {
  environment_id = affluent_environment.this.id
  cluster_id     = affluent_kafka_cluster.this.id
  resource_type  = "TOPIC"
  resource_name  = affluent_kafka_topic.orders.topic_name
  pattern_type   = "LITERAL"
  principal      = affluent_service_account.app.principal
  operation      = "WRITE"
  permission     = "ALLOW"
}

resource "affluent_kafka_client_quota" "app" {
  environment_id    = affluent_environment.this.id
  cluster_id        = affluent_kafka_cluster.this.id
  display_name      = "${var.name_prefix}-orders-app"
  principals        = [affluent_service_account.app.principal]
  ingress_byte_rate = 10485760 # 10 MiB/s produced
  egress_byte_rate  = 20971520 # 20 MiB/s fetched
}
