package broker

// AlterClientQuotas: v0-1.
//
// Needs ALTER_CONFIGS on the cluster (CLUSTER_AUTHORIZATION_FAILED for each
// entry). Sets and removes quota values of entities of the principal's
// cluster, Kafka's rules: an entity names user, client-id or both, each at
// most once, by name or (null name) the default entity; keys are
// producer_byte_rate and consumer_byte_rate (whole bytes per second),
// request_percentage and controller_mutation_rate; values set must be
// positive; a key twice in one entry is INVALID_REQUEST, as is an ip
// entity (not kept here). Removing a value that is not set is no error.
// validate_only checks without changing. Valid entries are applied in one
// transaction, and apply to this broker's connections at once, to other
// brokers' within a second (quotas.go).

import (
	"context"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiAlterClientQuotas = 49

func init() {
	register(api{key: apiAlterClientQuotas, minVersion: 0, maxVersion: 1, lane: laneAdmin, handle: (*Broker).handleAlterClientQuotas})
}

// quotaKeys are the client quota keys of user and client-id entities;
// true marks those whose values are whole numbers (LONG in Kafka).
var quotaKeys = map[string]bool{
	"producer_byte_rate":       true,
	"consumer_byte_rate":       true,
	"request_percentage":       false,
	"controller_mutation_rate": false,
}

func (b *Broker) handleAlterClientQuotas(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.AlterClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	resp.Entries = make([]kmsg.AlterClientQuotasResponseEntry, len(req.Entries))
	for i, e := range req.Entries {
		re := &resp.Entries[i]
		*re = kmsg.NewAlterClientQuotasResponseEntry()
		for _, p := range e.Entity {
			rp := kmsg.NewAlterClientQuotasResponseEntryEntity()
			rp.Type, rp.Name = p.Type, p.Name
			re.Entity = append(re.Entity, rp)
		}
	}
	fail := func(code int16, msg string) (kmsg.Response, error) {
		for i := range resp.Entries {
			resp.Entries[i].ErrorCode, resp.Entries[i].ErrorMessage = code, errMessage(msg)
		}
		return resp, nil
	}
	switch {
	case !b.clusterAllowed(ctx, r, acl.OpAlterConfigs):
		return fail(kerr.ClusterAuthorizationFailed.Code, "")
	case b.cfg.ClientQuotas == nil:
		return fail(kerr.UnknownServerError.Code, msgQuotasUnavailable)
	}

	var changes []storage.QuotaChange
	var at []int
	for i, e := range req.Entries {
		c, err := quotaChange(e)
		if err != nil {
			resp.Entries[i].ErrorCode, resp.Entries[i].ErrorMessage = kerr.InvalidRequest.Code, errMessage(err.Error())
			continue
		}
		changes = append(changes, c)
		at = append(at, i)
	}
	if len(changes) == 0 || req.ValidateOnly {
		return resp, nil
	}
	if err := b.cfg.ClientQuotas.AlterClientQuotas(ctx, r.cluster(), changes); err != nil {
		code := b.storageError(ctx, r, "alter client quotas", err)
		for _, i := range at {
			resp.Entries[i].ErrorCode = code
		}
		return resp, nil
	}
	b.quotas.invalidate(r.cluster())
	for _, c := range changes {
		b.log.Info("client quota altered", "cluster", r.cluster(), "by", r.principal.Name,
			"entity", entityString(c.Entity), "set", c.Set, "removed", c.Remove)
	}
	return resp, nil
}

// quotaChange checks one entry; the error is the client's message.
func quotaChange(e kmsg.AlterClientQuotasRequestEntry) (storage.QuotaChange, error) {
	var c storage.QuotaChange
	if len(e.Entity) == 0 {
		return c, fmt.Errorf("invalid empty client quota entity")
	}
	for _, p := range e.Entity {
		name := &storage.QuotaName{Default: p.Name == nil}
		if p.Name != nil {
			name.Name = *p.Name
		}
		var slot **storage.QuotaName
		switch p.Type {
		case storage.QuotaEntityUser:
			slot = &c.Entity.User
		case storage.QuotaEntityClientID:
			slot = &c.Entity.ClientID
		case quotaEntityIP:
			return c, fmt.Errorf("ip quotas are not supported")
		default:
			return c, fmt.Errorf("unhandled client quota entity type: %s", p.Type)
		}
		if *slot != nil {
			return c, fmt.Errorf("duplicate entity entry %s", p.Type)
		}
		*slot = name
	}
	c.Set = map[string]float64{}
	seen := map[string]bool{}
	for _, op := range e.Ops {
		whole, known := quotaKeys[op.Key]
		switch {
		case !known:
			return c, fmt.Errorf("invalid configuration key %s", op.Key)
		case seen[op.Key]:
			return c, fmt.Errorf("duplicate quota key %s", op.Key)
		}
		seen[op.Key] = true
		if op.Remove {
			c.Remove = append(c.Remove, op.Key)
			continue
		}
		switch {
		case math.IsNaN(op.Value) || math.IsInf(op.Value, 0) || op.Value <= 0:
			return c, fmt.Errorf("quota %s must be greater than 0", op.Key)
		case whole && (op.Value != math.Trunc(op.Value) || op.Value > math.MaxInt64):
			return c, fmt.Errorf("value %v for %s should be an integer", op.Value, op.Key)
		}
		c.Set[op.Key] = op.Value
	}
	return c, nil
}
