package tiered

// migrations is the schema history of the dataplane metadata DB. Never edit
// a released migration; append a new version. Keep to portable SQL (types
// TEXT, INTEGER, BIGINT; no AUTOINCREMENT, no WITHOUT ROWID) so that the
// PostgreSQL engine applies the same list. Column names avoid words that are
// reserved in either engine (offset, partition, group).
var migrations = []migration{
	{version: 1, statements: []string{
		// Topics are keyed by their random UUID (text form), so a topic
		// re-created under the same name starts a fresh log.
		`CREATE TABLE topics (
			topic_id TEXT PRIMARY KEY,
			cluster TEXT NOT NULL,
			name TEXT NOT NULL,
			partitions INTEGER NOT NULL,
			create_time_ms BIGINT NOT NULL,
			UNIQUE (cluster, name))`,
		`CREATE TABLE topic_configs (
			topic_id TEXT NOT NULL,
			config_name TEXT NOT NULL,
			config_value TEXT NOT NULL,
			PRIMARY KEY (topic_id, config_name))`,
		// next_offset is the high watermark; offsets are assigned by
		// advancing it inside the commit transaction.
		`CREATE TABLE partitions (
			topic_id TEXT NOT NULL,
			partition_id INTEGER NOT NULL,
			next_offset BIGINT NOT NULL,
			log_start_offset BIGINT NOT NULL,
			PRIMARY KEY (topic_id, partition_id))`,
		// A chunk is a run of consecutive batches of one partition stored
		// contiguously in one object. Keyed by last offset so "the chunk
		// holding offset X" is an index seek on last_offset >= X.
		`CREATE TABLE chunks (
			topic_id TEXT NOT NULL,
			partition_id INTEGER NOT NULL,
			last_offset BIGINT NOT NULL,
			base_offset BIGINT NOT NULL,
			object_key TEXT NOT NULL,
			byte_offset BIGINT NOT NULL,
			byte_length BIGINT NOT NULL,
			first_timestamp BIGINT NOT NULL,
			max_timestamp BIGINT NOT NULL,
			PRIMARY KEY (topic_id, partition_id, last_offset))`,
		// Idempotent producer state per partition: epoch, last sequence and
		// the five most recent batches for duplicate detection.
		`CREATE TABLE producers (
			topic_id TEXT NOT NULL,
			partition_id INTEGER NOT NULL,
			producer_id BIGINT NOT NULL,
			producer_epoch INTEGER NOT NULL,
			last_sequence INTEGER NOT NULL,
			recent_batches TEXT NOT NULL,
			update_time_ms BIGINT NOT NULL,
			PRIMARY KEY (topic_id, partition_id, producer_id))`,
		`CREATE TABLE id_sequences (
			name TEXT PRIMARY KEY,
			next_value BIGINT NOT NULL)`,
		`INSERT INTO id_sequences (name, next_value) VALUES ('producer_id', 0)`,
		// A group's durable record is one JSON document (groups.GroupRecord).
		`CREATE TABLE consumer_groups (
			cluster TEXT NOT NULL,
			group_name TEXT NOT NULL,
			record TEXT NOT NULL,
			update_time_ms BIGINT NOT NULL,
			PRIMARY KEY (cluster, group_name))`,
		`CREATE TABLE committed_offsets (
			cluster TEXT NOT NULL,
			group_name TEXT NOT NULL,
			topic TEXT NOT NULL,
			partition_id INTEGER NOT NULL,
			committed_offset BIGINT NOT NULL,
			leader_epoch INTEGER NOT NULL,
			metadata TEXT NOT NULL,
			commit_time_ms BIGINT NOT NULL,
			PRIMARY KEY (cluster, group_name, topic, partition_id))`,
	}},
	{version: 2, statements: []string{
		// Segments: a chunk row is now either a WAL chunk (kind 0: its
		// batches are stored as producers sent them, offsets implied by
		// the chunk's base) or a block of a segment object (kind 1: its
		// batches carry their offsets, and compaction may leave gaps).
		// Blocks are the segment's sparse offset index and, by their
		// timestamps, its time index. append_time_ms is when the data was
		// first committed (the WAL flush), which segment.ms and the WAL
		// hold time measure from.
		`ALTER TABLE chunks ADD COLUMN kind INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE chunks ADD COLUMN append_time_ms BIGINT NOT NULL DEFAULT 0`,
		// Finding whether anything still points at an object, for GC.
		`CREATE INDEX chunks_by_object ON chunks (object_key)`,
		// The compactor's scan of what is still in the WAL.
		`CREATE INDEX chunks_in_wal ON chunks (topic_id, partition_id, last_offset) WHERE kind = 0`,
		// One row per segment object of a partition: offsets [base_offset,
		// last_offset], its size, the largest record timestamp (retention),
		// the append time of its oldest data (segment.ms), and whether it
		// was cut full (sealed segments are never merged again).
		`CREATE TABLE segments (
			topic_id TEXT NOT NULL,
			partition_id INTEGER NOT NULL,
			last_offset BIGINT NOT NULL,
			base_offset BIGINT NOT NULL,
			object_key TEXT NOT NULL,
			size_bytes BIGINT NOT NULL,
			max_timestamp BIGINT NOT NULL,
			first_append_ms BIGINT NOT NULL,
			sealed INTEGER NOT NULL,
			PRIMARY KEY (topic_id, partition_id, last_offset))`,
		`CREATE INDEX segments_by_object ON segments (object_key)`,
		// Log cleaner (cleanup.policy=compact) state: offsets below
		// cleaned_offset have been cleaned; tombstone_horizon_ms is the
		// earliest delete horizon of a tombstone kept, -1 when none.
		`ALTER TABLE partitions ADD COLUMN cleaned_offset BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE partitions ADD COLUMN tombstone_horizon_ms BIGINT NOT NULL DEFAULT -1`,
		// Objects that may have lost their last reference, deleted by GC
		// once not_before_ms has passed (reads in flight finish) and if
		// nothing points at them still.
		`CREATE TABLE object_gc (
			object_key TEXT PRIMARY KEY,
			not_before_ms BIGINT NOT NULL)`,
	}},
	{version: 3, statements: []string{
		// Kafka ACLs of each cluster (acls.go): one row per binding, with
		// Kafka's codes for the enumerations.
		`CREATE TABLE kafka_acls (
			cluster TEXT NOT NULL,
			resource_type INTEGER NOT NULL,
			resource_name TEXT NOT NULL,
			pattern_type INTEGER NOT NULL,
			principal TEXT NOT NULL,
			host TEXT NOT NULL,
			operation INTEGER NOT NULL,
			permission INTEGER NOT NULL,
			create_time_ms BIGINT NOT NULL,
			PRIMARY KEY (cluster, resource_type, resource_name, pattern_type, principal, host, operation, permission))`,
		// Client quotas of each cluster (quotas.go): one row per entity
		// and key. A *_kind is 0 when the entity does not name that type,
		// 1 for a name (in *_name), 2 for the type's default entity.
		// Values are kept as decimal text, exact in both engines.
		`CREATE TABLE client_quotas (
			cluster TEXT NOT NULL,
			user_kind INTEGER NOT NULL,
			user_name TEXT NOT NULL,
			client_kind INTEGER NOT NULL,
			client_name TEXT NOT NULL,
			quota_key TEXT NOT NULL,
			quota_value TEXT NOT NULL,
			PRIMARY KEY (cluster, user_kind, user_name, client_kind, client_name, quota_key))`,
	}},
	{version: 4, statements: []string{
		// Broker membership (members.go): one heartbeated lease per live
		// broker. owner is the broker's stable identity (kept in its data
		// directory), incarnation is random per process, so a restarted
		// broker takes its own id back at once. Times are the DB's clock.
		`CREATE TABLE broker_leases (
			node_id INTEGER PRIMARY KEY,
			owner TEXT NOT NULL,
			incarnation TEXT NOT NULL,
			host TEXT NOT NULL,
			port INTEGER NOT NULL,
			rack TEXT NOT NULL,
			expires_ms BIGINT NOT NULL)`,
		// The membership generation: raised, under this row's lock, by
		// every change of the leases' set or addresses.
		`INSERT INTO id_sequences (name, next_value) VALUES ('broker_generation', 0)`,
	}},
	{version: 5, statements: []string{
		// A group's record carries a version raised by every save; a
		// coordinator saves (and commits offsets) only over the version it
		// loaded or last wrote, so a deposed coordinator cannot overwrite
		// what its successor wrote (groups.go). Records that predate the
		// column start at 1; 0 means "no record".
		`ALTER TABLE consumer_groups ADD COLUMN version BIGINT NOT NULL DEFAULT 1`,
	}},
	{version: 6, statements: []string{
		// Every Kafka listener's advertised address (JSON list of
		// membership.Listener), so that clients are sent to the listener
		// of the kind they connected through; '' for brokers that
		// registered only host and port.
		`ALTER TABLE broker_leases ADD COLUMN listeners TEXT NOT NULL DEFAULT ''`,
	}},
	{version: 7, statements: []string{
		// Transaction coordinator state (transactions.go): one row per
		// transactional id; the partitions and groups of the current
		// transaction are a JSON document. version guards saves, so two
		// brokers that both think they coordinate an id cannot interleave.
		`CREATE TABLE transactions (
			cluster TEXT NOT NULL,
			transactional_id TEXT NOT NULL,
			producer_id BIGINT NOT NULL,
			producer_epoch INTEGER NOT NULL,
			state TEXT NOT NULL,
			timeout_ms INTEGER NOT NULL,
			members TEXT NOT NULL,
			start_time_ms BIGINT NOT NULL,
			update_time_ms BIGINT NOT NULL,
			version BIGINT NOT NULL,
			PRIMARY KEY (cluster, transactional_id))`,
		`CREATE INDEX transactions_by_state ON transactions (state, update_time_ms)`,
		// Transactions open in a partition: the producer's first offset in
		// it. The last stable offset is the least first_offset, written in
		// the commit transaction of the batch and deleted in that of the
		// marker ending it.
		`CREATE TABLE txn_open (
			topic_id TEXT NOT NULL,
			partition_id INTEGER NOT NULL,
			producer_id BIGINT NOT NULL,
			first_offset BIGINT NOT NULL,
			PRIMARY KEY (topic_id, partition_id, producer_id))`,
		// The aborted transaction index: each aborted span from the
		// producer's first offset to its abort marker (last_offset).
		`CREATE TABLE txn_aborted (
			topic_id TEXT NOT NULL,
			partition_id INTEGER NOT NULL,
			last_offset BIGINT NOT NULL,
			producer_id BIGINT NOT NULL,
			first_offset BIGINT NOT NULL,
			PRIMARY KEY (topic_id, partition_id, last_offset))`,
		// Group offsets committed inside a transaction (TxnOffsetCommit),
		// moved to committed_offsets when it commits.
		`CREATE TABLE txn_offsets (
			cluster TEXT NOT NULL,
			producer_id BIGINT NOT NULL,
			group_name TEXT NOT NULL,
			topic TEXT NOT NULL,
			partition_id INTEGER NOT NULL,
			committed_offset BIGINT NOT NULL,
			leader_epoch INTEGER NOT NULL,
			metadata TEXT NOT NULL,
			commit_time_ms BIGINT NOT NULL,
			PRIMARY KEY (cluster, producer_id, group_name, topic, partition_id))`,
	}},
	{version: 8, statements: []string{
		// The producer id and epoch a transactional id had before its
		// last InitProducerId, when the producer named them (KIP-360): a
		// retry of that request, whose answer was lost, is answered with
		// the current ones instead of being fenced. -1 when none.
		`ALTER TABLE transactions ADD COLUMN last_producer_id BIGINT NOT NULL DEFAULT -1`,
		`ALTER TABLE transactions ADD COLUMN last_producer_epoch INTEGER NOT NULL DEFAULT -1`,
	}},
}
