# A service account is imported by its id.
terraform import affluent_service_account.orders_app sa-abc123
