# An API key is imported by the key itself; the secret is not readable
# after import.
terraform import affluent_api_key.orders_app_kafka ABCDEFGH12345678
