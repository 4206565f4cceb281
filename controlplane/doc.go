// Package controlplane is Affluent's control plane: organizations,
// environments, clusters and their lifecycle, identity and access (service
// accounts, API keys, role bindings, identity providers), quotas, usage and
// the audit log, served over gRPC and persisted in SQLite or PostgreSQL.
package controlplane
