// Package sdk is the Go client of the Affluent API. The CLI and the
// Terraform provider are built on it.
package sdk
