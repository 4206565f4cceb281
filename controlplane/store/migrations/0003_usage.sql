-- Hourly usage of clusters as brokers meter it (dataplane/usage): one row
-- per cluster, principal ('' for the whole cluster), UTC hour and broker.
-- Brokers add to the counters (bytes_in, bytes_out, requests) and raise the
-- peaks (connections, partitions, stored_bytes) every few seconds. Rows are
-- keyed by cluster id, globally unique; readers check the cluster's
-- organization first. hour_start is microseconds since the Unix epoch.
CREATE TABLE cluster_usage (
  cluster_id   TEXT NOT NULL,
  principal    TEXT NOT NULL,
  hour_start   BIGINT NOT NULL,
  broker       TEXT NOT NULL,
  bytes_in     BIGINT NOT NULL,
  bytes_out    BIGINT NOT NULL,
  requests     BIGINT NOT NULL,
  connections  BIGINT NOT NULL,
  partitions   BIGINT NOT NULL,
  stored_bytes BIGINT NOT NULL,
  update_time  BIGINT NOT NULL,
  PRIMARY KEY (cluster_id, principal, hour_start, broker)
);
