# An identity provider is imported by its id.
terraform import affluent_identity_provider.corp idp-abc123
