# An identity pool is imported by <identity provider id>/<pool id>.
terraform import affluent_identity_pool.kafka_apps idp-abc123/pool-def456
