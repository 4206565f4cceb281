# An ACL is imported by <environment id>/<cluster id>/<acl id>, where the
# acl id is the ACL's `acl_id` attribute (as listed by the API).
ACL_ID="..."
terraform import affluent_kafka_acl.orders_write "env-abc123/lkc-def456/${ACL_ID}"
