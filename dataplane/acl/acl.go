// Package acl is the Kafka access control list model of the dataplane: the
// bindings CreateAcls stores (resource pattern, principal, host, operation,
// permission), the filters DescribeAcls and DeleteAcls select them with, and
// the decision Kafka's authorizer makes from them — DENY wins, an allowed
// READ, WRITE, DELETE or ALTER implies DESCRIBE and ALTER_CONFIGS implies
// DESCRIBE_CONFIGS, and nothing is allowed that no ACL allows. Values are
// Kafka's wire codes, so requests map to them without tables.
//
// It is pure Go with no storage: the metadata DB keeps each cluster's ACLs
// (dataplane/storage/tiered) and the broker decides with them
// (dataplane/broker/authorize.go), together with role bindings.
package acl

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ResourceType is Kafka's ACL resource type (its wire code).
type ResourceType int8

// Resource types.
const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1 // filters only
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

var resourceNames = map[ResourceType]string{
	ResourceUnknown: "UNKNOWN", ResourceAny: "ANY", ResourceTopic: "TOPIC", ResourceGroup: "GROUP",
	ResourceCluster: "CLUSTER", ResourceTransactionalID: "TRANSACTIONAL_ID",
	ResourceDelegationToken: "DELEGATION_TOKEN", ResourceUser: "USER",
}

func (t ResourceType) String() string { return nameOf(resourceNames, t) }

// PatternType says how a binding's resource name matches resources.
type PatternType int8

// Pattern types. ANY and MATCH are for filters only.
const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1 // filters: any pattern type, the name compared as is
	PatternMatch    PatternType = 2 // filters: the bindings that apply to the named resource
	PatternLiteral  PatternType = 3 // the name, or every name when it is "*"
	PatternPrefixed PatternType = 4 // every name starting with it
)

var patternNames = map[PatternType]string{
	PatternUnknown: "UNKNOWN", PatternAny: "ANY", PatternMatch: "MATCH",
	PatternLiteral: "LITERAL", PatternPrefixed: "PREFIXED",
}

func (p PatternType) String() string { return nameOf(patternNames, p) }

// Operation is Kafka's ACL operation.
type Operation int8

// Operations. ANY is for filters only; ALL in a binding means every
// operation.
const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

var opNames = map[Operation]string{
	OpUnknown: "UNKNOWN", OpAny: "ANY", OpAll: "ALL", OpRead: "READ", OpWrite: "WRITE",
	OpCreate: "CREATE", OpDelete: "DELETE", OpAlter: "ALTER", OpDescribe: "DESCRIBE",
	OpClusterAction: "CLUSTER_ACTION", OpDescribeConfigs: "DESCRIBE_CONFIGS",
	OpAlterConfigs: "ALTER_CONFIGS", OpIdempotentWrite: "IDEMPOTENT_WRITE",
	OpCreateTokens: "CREATE_TOKENS", OpDescribeTokens: "DESCRIBE_TOKENS",
}

func (o Operation) String() string { return nameOf(opNames, o) }

// Permission is ALLOW or DENY.
type Permission int8

// Permissions. ANY is for filters only.
const (
	PermissionUnknown Permission = 0
	PermissionAny     Permission = 1
	PermissionDeny    Permission = 2
	PermissionAllow   Permission = 3
)

var permissionNames = map[Permission]string{
	PermissionUnknown: "UNKNOWN", PermissionAny: "ANY", PermissionDeny: "DENY", PermissionAllow: "ALLOW",
}

func (p Permission) String() string { return nameOf(permissionNames, p) }

func nameOf[K ~int8](names map[K]string, k K) string {
	if s, ok := names[k]; ok {
		return s
	}
	return fmt.Sprintf("UNKNOWN(%d)", int8(k))
}

// Names Kafka gives special meaning.
const (
	// ClusterName is the only name of the CLUSTER resource.
	ClusterName = "kafka-cluster"
	// Wildcard, as a LITERAL resource name, matches every resource of
	// the type; as a host, every host.
	Wildcard = "*"
	// WildcardPrincipal in a binding matches every principal.
	WildcardPrincipal = "User:*"
)

// MaxNameBytes bounds resource names and principals of new bindings;
// Kafka's own names are far shorter (topics: 249).
const MaxNameBytes = 1024

// operationsOf lists the operations Kafka defines on each resource type
// (AclEntry.supportedOperations); ALL is valid on every one.
var operationsOf = map[ResourceType][]Operation{
	ResourceTopic: {OpRead, OpWrite, OpCreate, OpDescribe, OpDelete, OpAlter, OpDescribeConfigs, OpAlterConfigs},
	ResourceGroup: {OpRead, OpDescribe, OpDelete},
	ResourceCluster: {OpCreate, OpClusterAction, OpDescribeConfigs, OpAlterConfigs, OpIdempotentWrite,
		OpAlter, OpDescribe},
	ResourceTransactionalID: {OpDescribe, OpWrite},
	ResourceDelegationToken: {OpDescribe},
}

// Operations returns the operations defined on resource type t, in Kafka's
// order; nil for types ACLs cannot name here.
func Operations(t ResourceType) []Operation { return append([]Operation(nil), operationsOf[t]...) }

// Binding is one ACL: Permission for Principal, connecting from Host, to
// perform Operation on the resources the pattern (ResourceType,
// ResourceName, PatternType) covers.
type Binding struct {
	ResourceType ResourceType
	ResourceName string
	PatternType  PatternType
	Principal    string
	Host         string
	Operation    Operation
	Permission   Permission
}

func (b Binding) String() string {
	return fmt.Sprintf("(%s %s %s) %s %s from %s on %s", b.ResourceType, b.PatternType, b.ResourceName,
		b.Permission, b.Principal, b.Host, b.Operation)
}

// Validate checks a binding about to be created, as Kafka does, and a
// little more: the operation must be one defined on the resource type (an
// ACL for any other would never apply), the host "*" or an IP address, and
// types, patterns and permissions concrete. The message is for the client.
func (b Binding) Validate() error {
	ops, known := operationsOf[b.ResourceType]
	switch {
	case !known:
		return fmt.Errorf("invalid resource type %s: want TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID or DELEGATION_TOKEN", b.ResourceType)
	case b.PatternType != PatternLiteral && b.PatternType != PatternPrefixed:
		return fmt.Errorf("invalid pattern type %s: want LITERAL or PREFIXED", b.PatternType)
	case b.Permission != PermissionAllow && b.Permission != PermissionDeny:
		return fmt.Errorf("invalid permission type %s: want ALLOW or DENY", b.Permission)
	case b.Operation != OpAll && !contains(ops, b.Operation):
		return fmt.Errorf("operation %s is not defined on resource type %s", b.Operation, b.ResourceType)
	case b.ResourceName == "":
		return errors.New("resource name should not be empty")
	case len(b.ResourceName) > MaxNameBytes:
		return fmt.Errorf("resource name longer than %d bytes", MaxNameBytes)
	case b.ResourceType == ResourceCluster && b.ResourceName != ClusterName:
		return fmt.Errorf("the only valid name for the CLUSTER resource is %s", ClusterName)
	}
	if err := validatePrincipal(b.Principal); err != nil {
		return err
	}
	if b.Host != Wildcard && net.ParseIP(b.Host) == nil {
		return fmt.Errorf("invalid host %q: want * or an IP address", b.Host)
	}
	return nil
}

func validatePrincipal(p string) error {
	typ, name, ok := strings.Cut(p, ":")
	switch {
	case !ok || typ == "" || name == "":
		return fmt.Errorf("could not parse principal from %q: want Type:name, e.g. User:sa-123", p)
	case len(p) > MaxNameBytes:
		return fmt.Errorf("principal longer than %d bytes", MaxNameBytes)
	}
	return nil
}

// Normalize returns b as stored and compared: the host in canonical form,
// so that "::1" and "0:0::1" are one binding.
func (b Binding) Normalize() Binding {
	if ip := net.ParseIP(b.Host); ip != nil {
		b.Host = ip.String()
	}
	return b
}

// covers reports whether b's pattern applies to the resource (t, name).
func (b Binding) covers(t ResourceType, name string) bool {
	if b.ResourceType != t {
		return false
	}
	switch b.PatternType {
	case PatternLiteral:
		return b.ResourceName == name || b.ResourceName == Wildcard
	case PatternPrefixed:
		return strings.HasPrefix(name, b.ResourceName)
	}
	return false
}

// Filter selects bindings, as DescribeAcls and DeleteAcls send it: ANY (or
// nil) fields match everything, and the pattern type MATCH selects the
// bindings that apply to ResourceName.
type Filter struct {
	ResourceType ResourceType
	ResourceName *string
	PatternType  PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// Validate rejects filters with unknown values, which Kafka answers with
// INVALID_REQUEST.
func (f Filter) Validate() error {
	switch {
	case f.ResourceType == ResourceUnknown || resourceNames[f.ResourceType] == "":
		return fmt.Errorf("invalid resource type %s in filter", f.ResourceType)
	case f.PatternType == PatternUnknown || patternNames[f.PatternType] == "":
		return fmt.Errorf("invalid pattern type %s in filter", f.PatternType)
	case f.Operation == OpUnknown || opNames[f.Operation] == "":
		return fmt.Errorf("invalid operation %s in filter", f.Operation)
	case f.Permission == PermissionUnknown || permissionNames[f.Permission] == "":
		return fmt.Errorf("invalid permission type %s in filter", f.Permission)
	}
	return nil
}

// Matches applies Kafka's AclBindingFilter.matches.
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != b.ResourceType {
		return false
	}
	if f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != b.PatternType {
		return false
	}
	if f.ResourceName != nil {
		name := *f.ResourceName
		if f.PatternType == PatternMatch {
			if !b.covers(b.ResourceType, name) {
				return false
			}
		} else if name != b.ResourceName {
			return false
		}
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != b.Operation {
		return false
	}
	return f.Permission == PermissionAny || f.Permission == b.Permission
}

// allowedBy lists the operations whose ALLOW grants op: Kafka's implied
// operations.
func allowedBy(op Operation) []Operation {
	switch op {
	case OpDescribe:
		return []Operation{OpDescribe, OpRead, OpWrite, OpDelete, OpAlter, OpAll}
	case OpDescribeConfigs:
		return []Operation{OpDescribeConfigs, OpAlterConfigs, OpAll}
	}
	return []Operation{op, OpAll}
}

// Set is the bindings that apply to one principal connecting from one
// host, ready to decide with.
type Set struct {
	allow, deny []Binding
}

// Select picks from bindings those for principal (or every principal)
// from host (or every host). host is the client's IP address.
func Select(bindings []Binding, principal, host string) Set {
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	var s Set
	for _, b := range bindings {
		if b.Principal != principal && b.Principal != WildcardPrincipal {
			continue
		}
		if b.Host != Wildcard && b.Host != host {
			continue
		}
		switch b.Permission {
		case PermissionAllow:
			s.allow = append(s.allow, b)
		case PermissionDeny:
			s.deny = append(s.deny, b)
		}
	}
	return s
}

// Decision is the outcome of the ACLs for one operation on one resource.
type Decision int8

// Decisions.
const (
	// NoMatch: no ACL allows or denies; the default (deny) applies unless
	// something else (a role binding) allows.
	NoMatch Decision = iota
	Allowed
	// Denied by a DENY ACL, which nothing overrides but a super user.
	Denied
)

// Decide applies the ACLs to op on the resource (t, name): DENY (of op or
// ALL) wins, then ALLOW of op, of an operation implying it, or of ALL.
func (s Set) Decide(t ResourceType, name string, op Operation) Decision {
	for _, b := range s.deny {
		if (b.Operation == op || b.Operation == OpAll) && b.covers(t, name) {
			return Denied
		}
	}
	allowing := allowedBy(op)
	for _, b := range s.allow {
		if contains(allowing, b.Operation) && b.covers(t, name) {
			return Allowed
		}
	}
	return NoMatch
}

// AllowsAnyOf reports whether op is allowed on at least one resource of
// type t that no DENY covers: Kafka's authorizeByResourceType, with which
// "WRITE on any topic" lets a producer be idempotent.
func (s Set) AllowsAnyOf(t ResourceType, op Operation) bool {
	var denies []Binding
	for _, b := range s.deny {
		if b.ResourceType != t || (b.Operation != op && b.Operation != OpAll) {
			continue
		}
		if b.PatternType == PatternLiteral && b.ResourceName == Wildcard {
			return false
		}
		denies = append(denies, b)
	}
	for _, a := range s.allow {
		if a.ResourceType != t || (a.Operation != op && a.Operation != OpAll) {
			continue
		}
		if !deniedWhole(a, denies) {
			return true
		}
	}
	return false
}

// deniedWhole reports whether denies cover every resource allow covers.
func deniedWhole(allow Binding, denies []Binding) bool {
	for _, d := range denies {
		switch {
		case d.PatternType == PatternPrefixed && strings.HasPrefix(allow.ResourceName, d.ResourceName):
			return true // covers the allowed name, or every name of the allowed prefix
		case d.PatternType == PatternLiteral && allow.PatternType == PatternLiteral && d.ResourceName == allow.ResourceName:
			return true
		}
	}
	return false
}

// Empty reports whether no ACL applies.
func (s Set) Empty() bool { return len(s.allow) == 0 && len(s.deny) == 0 }

func contains(ops []Operation, op Operation) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}
