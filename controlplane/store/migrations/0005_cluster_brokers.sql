-- brokers is the number of brokers a DEDICATED cluster asks for (0 for
-- SERVERLESS); observed_brokers the number it runs, which differs while
-- the reconciler resizes it.
ALTER TABLE clusters ADD COLUMN brokers BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clusters ADD COLUMN observed_brokers BIGINT NOT NULL DEFAULT 0;
