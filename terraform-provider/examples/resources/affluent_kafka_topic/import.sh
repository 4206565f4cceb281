# A topic is imported by <environment id>/<cluster id>/<topic name>.
terraform import affluent_kafka_topic.orders env-abc123/lkc-def456/orders
