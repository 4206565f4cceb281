resource "affluent_service_account" "orders_app" {
  display_name = "orders-app"
  description  = "Producer of the orders topic"
}
