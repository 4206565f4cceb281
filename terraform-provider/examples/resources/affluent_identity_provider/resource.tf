resource "affluent_identity_provider" "corp" {
  display_name = "corp-sso"
  description  = "Company OIDC provider"
  issuer       = "https://login.example.com"
  jwks_uri     = "https://login.example.com/.well-known/jwks.json"
}
