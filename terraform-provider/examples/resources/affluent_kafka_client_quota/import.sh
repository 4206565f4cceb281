# A client quota is imported by <environment id>/<cluster id>/<quota id>.
terraform import affluent_kafka_client_quota.orders_app env-abc123/lkc-def456/cq-789
