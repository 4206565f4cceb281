# A cluster is imported by <environment id>/<cluster id>.
terraform import affluent_kafka_cluster.main env-abc123/lkc-def456
