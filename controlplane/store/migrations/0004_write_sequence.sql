-- write_sequence counts the committed configuration writes of every
-- control-plane process sharing this database: each write transaction
-- (Store.tx) adds one in the same transaction. Brokers order the config
-- snapshots of different control-plane replicas by it (store.BrokerState),
-- so a replica that has not yet seen a revocation cannot undo it on a
-- broker that has. One row, so every engine reads and bumps it the same.
CREATE TABLE write_sequence (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  value BIGINT NOT NULL
);
INSERT INTO write_sequence (id, value) VALUES (1, 0);
