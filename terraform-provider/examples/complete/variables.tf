variable "organization_id" {
  description = "Organization id, used in role binding CRN patterns (organization_id in .affluent/dev-credentials.json for `affluent dev`)."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the display names of everything created."
  type        = string
  default     = "complete"
}

variable "cloud" {
  description = "Cloud of the cluster: LOCAL (for `affluent dev`), AWS, GCP or AZURE."
  type        = string
  default     = "LOCAL"
}

variable "region" {
  description = "Region of the cluster."
  type        = string
  default     = "local"
}
