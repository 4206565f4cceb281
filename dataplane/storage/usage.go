package storage

import "context"

// Usage measures what a cluster keeps in storage, for the broker's
// max-storage limit and usage metering.
type Usage interface {
	// StoredBytes is the size of the record batches a cluster's topics
	// retain (WAL chunks not yet merged, and segments), whatever their
	// replication inside the object store. It is read often (about once a
	// second per active cluster), so it must not scan data.
	StoredBytes(ctx context.Context, cluster string) (int64, error)
}
