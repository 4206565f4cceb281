package acl

import (
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/controlplane/resource"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// binding is one ACL, every field as the API spells it.
type binding struct {
	ResourceType string
	ResourceName string
	PatternType  string
	Principal    string
	Host         string
	Operation    string
	Permission   string
}

func fromProto(a *pb.Acl) binding {
	b := binding{
		ResourceType: a.GetResourceType(),
		ResourceName: a.GetResourceName(),
		PatternType:  a.GetPatternType(),
		Principal:    a.GetPrincipal(),
		Host:         a.GetHost(),
		Operation:    a.GetOperation(),
		Permission:   a.GetPermission(),
	}
	if b.PatternType == "" {
		b.PatternType = "LITERAL"
	}
	if b.Host == "" {
		b.Host = "*"
	}
	return b
}

func fromKafka(d kadm.DescribedACL) binding {
	return binding{
		ResourceType: d.Type.String(),
		ResourceName: d.Name,
		PatternType:  d.Pattern.String(),
		Principal:    d.Principal,
		Host:         d.Host,
		Operation:    d.Operation.String(),
		Permission:   d.Permission.String(),
	}
}

func (b binding) toProto(cl resource.Cluster) *pb.Acl {
	return &pb.Acl{
		Id:           b.id(),
		ResourceType: b.ResourceType,
		ResourceName: b.ResourceName,
		PatternType:  b.PatternType,
		Principal:    b.Principal,
		Host:         b.Host,
		Operation:    b.Operation,
		Permission:   b.Permission,
		Environment:  cl.EnvironmentID,
		Cluster:      cl.ID,
	}
}

// id encodes the whole binding: the same binding always has the same id,
// and the id alone is enough to find or delete it.
func (b binding) id() string {
	raw, _ := json.Marshal([]string{b.ResourceType, b.ResourceName, b.PatternType, b.Principal, b.Host, b.Operation, b.Permission})
	return base64.RawURLEncoding.EncodeToString(raw)
}

var errBadID = errors.New("malformed ACL id")

func parseID(id string) (binding, error) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return binding{}, errBadID
	}
	var f []string
	if err := json.Unmarshal(raw, &f); err != nil || len(f) != 7 {
		return binding{}, errBadID
	}
	return binding{ResourceType: f[0], ResourceName: f[1], PatternType: f[2], Principal: f[3], Host: f[4], Operation: f[5], Permission: f[6]}, nil
}

// builder is the kadm builder naming exactly this binding (to create or
// delete it). The fields must have been validated.
func (b binding) builder() *kadm.ACLBuilder {
	k := kadm.NewACLs()
	switch b.ResourceType {
	case "TOPIC":
		k.Topics(b.ResourceName)
	case "GROUP":
		k.Groups(b.ResourceName)
	case "CLUSTER":
		k.Clusters()
	case "TRANSACTIONAL_ID":
		k.TransactionalIDs(b.ResourceName)
	}
	pattern, _ := kmsg.ParseACLResourcePatternType(b.PatternType)
	op, _ := kmsg.ParseACLOperation(b.Operation)
	k.ResourcePatternType(pattern).Operations(op)
	if b.Permission == "ALLOW" {
		k.Allow(b.Principal).AllowHosts(b.Host)
	} else {
		k.Deny(b.Principal).DenyHosts(b.Host)
	}
	return k
}

// matches applies a list request's filters; pattern MATCH selects the
// bindings that apply to resource_name (literal, prefix or wildcard).
func (b binding) matches(req *pb.ListAclsRequest) bool {
	eq := func(filter, v string) bool { return filter == "" || filter == v }
	if !eq(req.GetResourceType(), b.ResourceType) || !eq(req.GetPrincipal(), b.Principal) ||
		!eq(req.GetOperation(), b.Operation) || !eq(req.GetPermission(), b.Permission) || !eq(req.GetHost(), b.Host) {
		return false
	}
	name := req.GetResourceName()
	switch req.GetPatternType() {
	case "MATCH":
		return name == "" || b.ResourceName == "*" || b.ResourceName == name ||
			b.PatternType == "PREFIXED" && len(name) >= len(b.ResourceName) && name[:len(b.ResourceName)] == b.ResourceName
	case "":
		return eq(name, b.ResourceName)
	}
	return b.PatternType == req.GetPatternType() && eq(name, b.ResourceName)
}
