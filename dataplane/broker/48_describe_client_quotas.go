package broker

// DescribeClientQuotas: v0-1.
//
// Needs DESCRIBE_CONFIGS on the cluster (CLUSTER_AUTHORIZATION_FAILED).
// Answers the client quotas of the principal's cluster whose entity the
// filter selects, as Kafka does: each component names an entity type (user
// or client-id; ip quotas are not kept, so ip components select nothing)
// and matches an exact name, the type's default entity, or any entity of
// the type (default included); with strict, the entity may name no other
// type. A type twice, or an exact match without a name, is INVALID_REQUEST.
// Quotas are enforced by every broker (quotas.go).

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiDescribeClientQuotas = 48

func init() {
	register(api{key: apiDescribeClientQuotas, minVersion: 0, maxVersion: 1, lane: laneAdmin, handle: (*Broker).handleDescribeClientQuotas})
}

// Entity types of client quotas Kafka knows; this dataplane keeps user and
// client-id quotas (storage.QuotaEntityUser, storage.QuotaEntityClientID).
const quotaEntityIP = "ip"

const msgQuotasUnavailable = "client quotas are not kept by this broker"

// quotaMatch is one component of a DescribeClientQuotas filter.
type quotaMatch struct {
	typ       string
	matchType kmsg.QuotasMatchType
	name      *string
}

func (m quotaMatch) matches(e storage.QuotaEntity) bool {
	var part *storage.QuotaName
	switch m.typ {
	case storage.QuotaEntityUser:
		part = e.User
	case storage.QuotaEntityClientID:
		part = e.ClientID
	}
	switch {
	case part == nil:
		return false
	case m.matchType == kmsg.QuotasMatchTypeExact:
		return !part.Default && part.Name == *m.name
	case m.matchType == kmsg.QuotasMatchTypeDefault:
		return part.Default
	}
	return true // any entity of the type
}

func (b *Broker) handleDescribeClientQuotas(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	switch {
	case !b.clusterAllowed(ctx, r, acl.OpDescribeConfigs):
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	case b.cfg.ClientQuotas == nil:
		resp.ErrorCode, resp.ErrorMessage = kerr.UnknownServerError.Code, errMessage(msgQuotasUnavailable)
		return resp, nil
	}
	var matches []quotaMatch
	seen := map[string]bool{}
	for _, c := range req.Components {
		var bad string
		switch {
		case c.EntityType != storage.QuotaEntityUser && c.EntityType != storage.QuotaEntityClientID && c.EntityType != quotaEntityIP:
			bad = "custom entity type " + c.EntityType + " not supported"
		case seen[c.EntityType]:
			bad = "entity type " + c.EntityType + " cannot appear more than once in the filter"
		case c.MatchType < kmsg.QuotasMatchTypeExact || c.MatchType > kmsg.QuotasMatchTypeAny:
			bad = "unknown match type " + c.MatchType.String()
		case c.MatchType == kmsg.QuotasMatchTypeExact && c.Match == nil:
			bad = "MATCH_TYPE_EXACT needs a match string"
		case c.MatchType != kmsg.QuotasMatchTypeExact && c.Match != nil:
			bad = "only MATCH_TYPE_EXACT takes a match string"
		}
		if bad != "" {
			resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, errMessage(bad)
			return resp, nil
		}
		seen[c.EntityType] = true
		matches = append(matches, quotaMatch{typ: c.EntityType, matchType: c.MatchType, name: c.Match})
	}
	if seen[quotaEntityIP] && (seen[storage.QuotaEntityUser] || seen[storage.QuotaEntityClientID]) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		resp.ErrorMessage = errMessage("an ip filter component cannot be combined with user or client-id ones")
		return resp, nil
	}
	quotas, err := b.cfg.ClientQuotas.ClientQuotas(ctx, r.cluster())
	if err != nil {
		resp.ErrorCode = b.storageError(ctx, r, "describe client quotas", err)
		return resp, nil
	}
	for _, q := range quotas {
		if !quotaSelected(q.Entity, matches, req.Strict) {
			continue
		}
		e := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, p := range entityParts(q.Entity) {
			ep := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ep.Type, ep.Name = p.typ, p.name
			e.Entity = append(e.Entity, ep)
		}
		for _, k := range sortedKeys(q.Values) {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, q.Values[k]
			e.Values = append(e.Values, v)
		}
		resp.Entries = append(resp.Entries, e)
	}
	return resp, nil
}

func quotaSelected(e storage.QuotaEntity, matches []quotaMatch, strict bool) bool {
	if strict && len(entityParts(e)) != len(matches) {
		return false
	}
	return !slices.ContainsFunc(matches, func(m quotaMatch) bool { return !m.matches(e) })
}

// entityPart is one (type, name) of an entity on the wire; a nil name is
// the default entity.
type entityPart struct {
	typ  string
	name *string
}

func entityParts(e storage.QuotaEntity) []entityPart {
	var parts []entityPart
	add := func(typ string, n *storage.QuotaName) {
		switch {
		case n == nil:
		case n.Default:
			parts = append(parts, entityPart{typ: typ})
		default:
			parts = append(parts, entityPart{typ: typ, name: kmsg.StringPtr(n.Name)})
		}
	}
	add(storage.QuotaEntityUser, e.User)
	add(storage.QuotaEntityClientID, e.ClientID)
	return parts
}

// entityString writes an entity for logs: user=alice,client-id=<default>.
func entityString(e storage.QuotaEntity) string {
	var parts []string
	for _, p := range entityParts(e) {
		name := "<default>"
		if p.name != nil {
			name = *p.name
		}
		parts = append(parts, p.typ+"="+name)
	}
	return strings.Join(parts, ",")
}
