// Package gateway is Affluent's HTTP face: REST for every gRPC method of the
// control plane (grpc-gateway), the OpenAPI document, the OAuth 2.0 token
// endpoint and the JWKS the brokers trust.
package gateway
