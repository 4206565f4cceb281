package authz

import (
	"fmt"
	"strings"
)

// RolesMarkdown renders the role table as ROLES.md shows it.
func RolesMarkdown() string {
	var b strings.Builder
	b.WriteString("# Predefined roles\n\n")
	b.WriteString("Generated from `roles.go` by `go test ./controlplane/authz -update`; do not edit.\n\n")
	b.WriteString("A role binding grants a role to a principal (`User:<id>`) on the resources a CRN pattern\n")
	b.WriteString("covers: the resource the pattern names and everything beneath it, or with a trailing `*` in\n")
	b.WriteString("its last value, every name with that prefix. Describe-like actions (")
	var anc []string
	for _, a := range allActions() {
		if ancestorActions[a] {
			anc = append(anc, "`"+string(a)+"`")
		}
	}
	b.WriteString(strings.Join(anc, ", "))
	b.WriteString(")\nare also granted on the resources above the pattern. Everything else is denied.\n\n")
	b.WriteString("| role | bound on | grants |\n|---|---|---|\n")
	for _, r := range roles {
		acts := make([]string, len(r.Actions))
		for i, a := range r.Actions {
			acts[i] = "`" + string(a) + "`"
		}
		grants := strings.Join(acts, ", ")
		if r.Name == OrganizationAdmin {
			grants = "every action"
		}
		fmt.Fprintf(&b, "| %s | %s | %s<br>%s |\n", r.Name, strings.Join(r.BindTo, ", "), r.Description, grants)
	}
	b.WriteString(kafkaMarkdown())
	return b.String()
}
