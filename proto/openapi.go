// Package proto is Affluent's public API: the protobuf definitions under
// affluent/v1, the HTTP bindings in affluent/v1/affluent_api.yaml, and the
// code and OpenAPI document generated from them under gen/ (never edited by
// hand; `make generate` rebuilds them).
package proto

import _ "embed"

// OpenAPI is the generated OpenAPI (Swagger 2.0) document of the REST API.
//
//go:embed gen/openapi/affluent.swagger.json
var OpenAPI []byte
