// Command k8sschemas turns Kubernetes' OpenAPI definitions (swagger.json of
// k8s.io/kubernetes) and CustomResourceDefinitions into the per-kind JSON
// schemas kubeconform validates manifests with, so that the Helm chart can
// be checked without network access:
//
//	go run ./scripts/k8sschemas -swagger swagger.json -crd servicemonitors.yaml -out DIR
//	kubeconform -strict -schema-location 'DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json' …
//
// The schemas are strict as kubectl validation is: an object with declared
// properties accepts no other (a misspelt field fails). Int-or-string and
// quantity fields accept both spellings, as the API server does.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

func main() {
	var crds multiFlag
	swagger := flag.String("swagger", "", "Kubernetes swagger.json (api/openapi-spec of k8s.io/kubernetes)")
	flag.Var(&crds, "crd", "CustomResourceDefinition YAML file (repeatable)")
	out := flag.String("out", "", "output directory")
	flag.Parse()
	if *swagger == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: k8sschemas -swagger swagger.json [-crd file.yaml]... -out DIR")
		os.Exit(2)
	}
	n, err := run(*swagger, crds, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8sschemas:", err)
		os.Exit(1)
	}
	fmt.Printf("k8sschemas: %d schemas in %s\n", n, *out)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// definitionsFile holds every swagger definition; each kind's schema
// refers into it.
const definitionsFile = "_definitions.json"

func run(swaggerPath string, crdPaths []string, out string) (int, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	raw, err := os.ReadFile(swaggerPath)
	if err != nil {
		return 0, err
	}
	var spec struct {
		Definitions map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return 0, fmt.Errorf("%s: %w", swaggerPath, err)
	}
	if len(spec.Definitions) == 0 {
		return 0, fmt.Errorf("%s: no definitions", swaggerPath)
	}
	defs := map[string]any{}
	for name, d := range spec.Definitions {
		defs[name] = tighten(rewriteRefs(d))
	}
	if err := writeJSON(filepath.Join(out, definitionsFile), map[string]any{"definitions": defs}); err != nil {
		return 0, err
	}
	n := 0
	for name, d := range spec.Definitions {
		gvks, _ := d.(map[string]any)["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			gvk, _ := g.(map[string]any)
			group, _ := gvk["group"].(string)
			version, _ := gvk["version"].(string)
			kind, _ := gvk["kind"].(string)
			schema := map[string]any{"$ref": definitionsFile + "#/definitions/" + name}
			if err := writeJSON(filepath.Join(out, fileName(kind, group, version)), schema); err != nil {
				return n, err
			}
			n++
		}
	}
	for _, p := range crdPaths {
		m, err := crdSchemas(p, out)
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// fileName is where kubeconform looks for a kind with the template
// {{ .ResourceKind }}{{ .KindSuffix }}.json: deployment-apps-v1.json,
// service-v1.json, servicemonitor-monitoring-v1.json.
func fileName(kind, group, version string) string {
	name := strings.ToLower(kind)
	if group != "" {
		name += "-" + strings.ToLower(strings.Split(group, ".")[0])
	}
	return name + "-" + strings.ToLower(version) + ".json"
}

// crdSchemas writes the schema of every served version of the CRDs in path.
func crdSchemas(path, out string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	n := 0
	for {
		var crd struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Group string `yaml:"group"`
				Names struct {
					Kind string `yaml:"kind"`
				} `yaml:"names"`
				Versions []struct {
					Name   string `yaml:"name"`
					Schema struct {
						OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
					} `yaml:"schema"`
				} `yaml:"versions"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&crd); errors.Is(err, io.EOF) {
			return n, nil
		} else if err != nil {
			return n, fmt.Errorf("%s: %w", path, err)
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			schema := tighten(v.Schema.OpenAPIV3Schema)
			if err := writeJSON(filepath.Join(out, fileName(crd.Spec.Names.Kind, crd.Spec.Group, v.Name)), schema); err != nil {
				return n, err
			}
			n++
		}
	}
}

// rewriteRefs points swagger's "#/definitions/X" references at the
// definitions file, where kind schemas find them.
func rewriteRefs(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "$ref" && strings.HasPrefix(s, "#/definitions/") {
				v[k] = definitionsFile + s
				continue
			}
			v[k] = rewriteRefs(e)
		}
	case []any:
		for i, e := range v {
			v[i] = rewriteRefs(e)
		}
	}
	return v
}

// tighten makes objects with declared properties closed, and lets
// int-or-string and quantity values be numbers or strings.
func tighten(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v["format"] == "int-or-string" || v["x-kubernetes-int-or-string"] == true {
			return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
		}
		if d, _ := v["description"].(string); v["type"] == "string" && strings.HasPrefix(d, "Quantity is a fixed-point") {
			return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
		}
		if _, ok := v["properties"].(map[string]any); ok {
			if _, set := v["additionalProperties"]; !set {
				v["additionalProperties"] = false
			}
		}
		for k, e := range v {
			v[k] = tighten(e)
		}
	case []any:
		for i, e := range v {
			v[i] = tighten(e)
		}
	}
	return v
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
