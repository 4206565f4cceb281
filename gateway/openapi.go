package gateway

import (
	"encoding/json"
)

// openAPIDocument completes the generated Swagger document with what the
// generator cannot know without extra annotations: the title, the
// authentication schemes and the error body every method answers.
func openAPIDocument(generated []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(generated, &doc); err != nil {
		return nil, err
	}
	doc["info"] = map[string]any{
		"title":       "Affluent API",
		"version":     "v1",
		"description": "Manage Affluent organizations, environments, Kafka clusters, topics, ACLs, quotas and identities. Authenticate with a cloud API key (HTTP Basic, key:secret) or a bearer token.",
	}
	doc["securityDefinitions"] = map[string]any{
		"apiKey": map[string]any{"type": "basic", "description": "Cloud API key as the user name, its secret as the password."},
		"bearer": map[string]any{"type": "apiKey", "in": "header", "name": "Authorization", "description": "Bearer <token>"},
	}
	doc["security"] = []any{map[string]any{"apiKey": []any{}}, map[string]any{"bearer": []any{}}}
	defs, _ := doc["definitions"].(map[string]any)
	if defs == nil {
		defs = map[string]any{}
		doc["definitions"] = defs
	}
	defs["affluentError"] = map[string]any{
		"type": "object",
		"properties": map[string]any{
			"code":       map[string]any{"type": "string", "description": "Stable error code, for example NOT_FOUND or ETAG_MISMATCH."},
			"message":    map[string]any{"type": "string"},
			"request_id": map[string]any{"type": "string"},
		},
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, item := range paths {
		ops, _ := item.(map[string]any)
		for _, op := range ops {
			o, ok := op.(map[string]any)
			if !ok {
				continue
			}
			responses, _ := o["responses"].(map[string]any)
			if responses == nil {
				continue
			}
			responses["default"] = map[string]any{
				"description": "An error of the catalogue, with the matching HTTP status.",
				"schema":      map[string]any{"$ref": "#/definitions/affluentError"},
			}
		}
	}
	return json.MarshalIndent(doc, "", "  ")
}
