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
}
