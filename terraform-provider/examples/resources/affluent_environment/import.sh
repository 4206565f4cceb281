# An environment is imported by its id.
terraform import affluent_environment.staging env-abc123
