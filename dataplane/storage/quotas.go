package storage

import "context"

// Client quota entity types this dataplane keeps.
const (
	QuotaEntityUser     = "user"
	QuotaEntityClientID = "client-id"
)

// QuotaEntity names the clients a quota applies to: a user, a client id,
// or both; each nil when the entity does not name it.
type QuotaEntity struct {
	User, ClientID *QuotaName
}

// QuotaName is one part of a QuotaEntity: a name, or the default entity
// of its type (which applies to names without a quota of their own).
type QuotaName struct {
	Name    string
	Default bool
}

// ClientQuota is the quota values of one entity, by key
// (producer_byte_rate, consumer_byte_rate, request_percentage,
// controller_mutation_rate).
type ClientQuota struct {
	Entity QuotaEntity
	Values map[string]float64
}

// QuotaChange sets and removes values of one entity's quota.
type QuotaChange struct {
	Entity QuotaEntity
	Set    map[string]float64
	Remove []string
}

// ClientQuotas holds each cluster's client quotas (Kafka's
// DescribeClientQuotas and AlterClientQuotas).
type ClientQuotas interface {
	// ClientQuotas returns every entity with at least one value.
	ClientQuotas(ctx context.Context, cluster string) ([]ClientQuota, error)
	// AlterClientQuotas applies every change in one transaction.
	AlterClientQuotas(ctx context.Context, cluster string, changes []QuotaChange) error
}
