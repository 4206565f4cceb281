# A role binding is imported by its id.
terraform import affluent_role_binding.orders_write rb-abc123
