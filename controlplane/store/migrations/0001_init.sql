-- The control plane's schema, shared by SQLite and PostgreSQL: only types
-- and syntax both understand (TEXT, BIGINT, UNIQUE, REFERENCES). Times are
-- microseconds since the Unix epoch, UTC.

CREATE TABLE organizations (
  id           TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  etag         TEXT NOT NULL,
  create_time  BIGINT NOT NULL,
  update_time  BIGINT NOT NULL
);

CREATE TABLE environments (
  id           TEXT PRIMARY KEY,
  org_id       TEXT NOT NULL REFERENCES organizations (id),
  display_name TEXT NOT NULL,
  description  TEXT NOT NULL,
  etag         TEXT NOT NULL,
  create_time  BIGINT NOT NULL,
  update_time  BIGINT NOT NULL,
  UNIQUE (org_id, display_name)
);
CREATE INDEX environments_page ON environments (org_id, create_time, id);

CREATE TABLE clusters (
  id                TEXT PRIMARY KEY,
  org_id            TEXT NOT NULL REFERENCES organizations (id),
  environment_id    TEXT NOT NULL REFERENCES environments (id),
  display_name      TEXT NOT NULL,
  cluster_type      TEXT NOT NULL,
  cloud             TEXT NOT NULL,
  region            TEXT NOT NULL,
  plan              TEXT NOT NULL,
  limits_json       TEXT NOT NULL,
  phase             TEXT NOT NULL,
  bootstrap_servers TEXT NOT NULL,
  rest_endpoint     TEXT NOT NULL,
  operation_id      TEXT NOT NULL,
  message           TEXT NOT NULL,
  etag              TEXT NOT NULL,
  create_time       BIGINT NOT NULL,
  update_time       BIGINT NOT NULL,
  UNIQUE (environment_id, display_name)
);
CREATE INDEX clusters_page ON clusters (environment_id, create_time, id);
CREATE INDEX clusters_phase ON clusters (phase);

CREATE TABLE operations (
  id            TEXT PRIMARY KEY,
  org_id        TEXT NOT NULL REFERENCES organizations (id),
  target        TEXT NOT NULL,
  target_crn    TEXT NOT NULL,
  verb          TEXT NOT NULL,
  done          BIGINT NOT NULL,
  error_code    BIGINT NOT NULL,
  error_message TEXT NOT NULL,
  etag          TEXT NOT NULL,
  create_time   BIGINT NOT NULL,
  update_time   BIGINT NOT NULL
);

CREATE TABLE service_accounts (
  id           TEXT PRIMARY KEY,
  org_id       TEXT NOT NULL REFERENCES organizations (id),
  display_name TEXT NOT NULL,
  description  TEXT NOT NULL,
  etag         TEXT NOT NULL,
  create_time  BIGINT NOT NULL,
  update_time  BIGINT NOT NULL,
  UNIQUE (org_id, display_name)
);
CREATE INDEX service_accounts_page ON service_accounts (org_id, create_time, id);

CREATE TABLE users (
  id           TEXT PRIMARY KEY,
  org_id       TEXT NOT NULL REFERENCES organizations (id),
  display_name TEXT NOT NULL,
  email        TEXT NOT NULL,
  etag         TEXT NOT NULL,
  create_time  BIGINT NOT NULL,
  update_time  BIGINT NOT NULL,
  UNIQUE (org_id, email)
);
CREATE INDEX users_page ON users (org_id, create_time, id);

-- secret_hash is a PHC-encoded argon2id hash; secrets are never stored.
CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  org_id       TEXT NOT NULL REFERENCES organizations (id),
  display_name TEXT NOT NULL,
  description  TEXT NOT NULL,
  owner        TEXT NOT NULL,
  resource     TEXT NOT NULL,
  secret_hash  TEXT NOT NULL,
  etag         TEXT NOT NULL,
  create_time  BIGINT NOT NULL,
  update_time  BIGINT NOT NULL
);
CREATE INDEX api_keys_page ON api_keys (org_id, create_time, id);
CREATE INDEX api_keys_owner ON api_keys (org_id, owner);

CREATE TABLE role_bindings (
  id          TEXT PRIMARY KEY,
  org_id      TEXT NOT NULL REFERENCES organizations (id),
  principal   TEXT NOT NULL,
  role_name   TEXT NOT NULL,
  crn_pattern TEXT NOT NULL,
  etag        TEXT NOT NULL,
  create_time BIGINT NOT NULL,
  update_time BIGINT NOT NULL,
  UNIQUE (org_id, principal, role_name, crn_pattern)
);
CREATE INDEX role_bindings_page ON role_bindings (org_id, create_time, id);
CREATE INDEX role_bindings_principal ON role_bindings (org_id, principal);

CREATE TABLE identity_providers (
  id           TEXT PRIMARY KEY,
  org_id       TEXT NOT NULL REFERENCES organizations (id),
  display_name TEXT NOT NULL,
  description  TEXT NOT NULL,
  issuer       TEXT NOT NULL,
  jwks_uri     TEXT NOT NULL,
  etag         TEXT NOT NULL,
  create_time  BIGINT NOT NULL,
  update_time  BIGINT NOT NULL,
  UNIQUE (org_id, display_name)
);
CREATE INDEX identity_providers_page ON identity_providers (org_id, create_time, id);

CREATE TABLE identity_pools (
  id             TEXT PRIMARY KEY,
  org_id         TEXT NOT NULL REFERENCES organizations (id),
  provider_id    TEXT NOT NULL REFERENCES identity_providers (id),
  display_name   TEXT NOT NULL,
  description    TEXT NOT NULL,
  identity_claim TEXT NOT NULL,
  filter_expr    TEXT NOT NULL,
  etag           TEXT NOT NULL,
  create_time    BIGINT NOT NULL,
  update_time    BIGINT NOT NULL,
  UNIQUE (provider_id, display_name)
);
CREATE INDEX identity_pools_page ON identity_pools (provider_id, create_time, id);

CREATE TABLE certificate_authorities (
  id                TEXT PRIMARY KEY,
  org_id            TEXT NOT NULL REFERENCES organizations (id),
  display_name      TEXT NOT NULL,
  description       TEXT NOT NULL,
  certificate_chain TEXT NOT NULL,
  etag              TEXT NOT NULL,
  create_time       BIGINT NOT NULL,
  update_time       BIGINT NOT NULL,
  UNIQUE (org_id, display_name)
);
CREATE INDEX certificate_authorities_page ON certificate_authorities (org_id, create_time, id);

CREATE TABLE certificate_pools (
  id                  TEXT PRIMARY KEY,
  org_id              TEXT NOT NULL REFERENCES organizations (id),
  ca_id               TEXT NOT NULL REFERENCES certificate_authorities (id),
  display_name        TEXT NOT NULL,
  description         TEXT NOT NULL,
  external_identifier TEXT NOT NULL,
  filter_expr         TEXT NOT NULL,
  cluster_id          TEXT NOT NULL,
  etag                TEXT NOT NULL,
  create_time         BIGINT NOT NULL,
  update_time         BIGINT NOT NULL,
  UNIQUE (ca_id, display_name)
);
CREATE INDEX certificate_pools_page ON certificate_pools (ca_id, create_time, id);

CREATE TABLE client_quotas (
  id                TEXT PRIMARY KEY,
  org_id            TEXT NOT NULL REFERENCES organizations (id),
  environment_id    TEXT NOT NULL,
  cluster_id        TEXT NOT NULL REFERENCES clusters (id),
  display_name      TEXT NOT NULL,
  description       TEXT NOT NULL,
  principals_json   TEXT NOT NULL,
  ingress_byte_rate BIGINT NOT NULL,
  egress_byte_rate  BIGINT NOT NULL,
  etag              TEXT NOT NULL,
  create_time       BIGINT NOT NULL,
  update_time       BIGINT NOT NULL,
  UNIQUE (cluster_id, display_name)
);
CREATE INDEX client_quotas_page ON client_quotas (cluster_id, create_time, id);

-- A principal has at most one client quota per cluster.
CREATE TABLE client_quota_principals (
  cluster_id TEXT NOT NULL,
  principal  TEXT NOT NULL,
  quota_id   TEXT NOT NULL REFERENCES client_quotas (id),
  PRIMARY KEY (cluster_id, principal)
);
CREATE INDEX client_quota_principals_quota ON client_quota_principals (quota_id);

CREATE TABLE audit_events (
  id             TEXT PRIMARY KEY,
  org_id         TEXT NOT NULL,
  event_time     BIGINT NOT NULL,
  principal      TEXT NOT NULL,
  action         TEXT NOT NULL,
  resource       TEXT NOT NULL,
  outcome        TEXT NOT NULL,
  request_id     TEXT NOT NULL,
  source_address TEXT NOT NULL,
  method         TEXT NOT NULL,
  message        TEXT NOT NULL
);
CREATE INDEX audit_events_page ON audit_events (org_id, event_time, id);

-- Idempotent creates: a request id names the resource its first use made.
CREATE TABLE request_ids (
  org_id      TEXT NOT NULL,
  method      TEXT NOT NULL,
  request_id  TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  create_time BIGINT NOT NULL,
  PRIMARY KEY (org_id, method, request_id)
);
CREATE INDEX request_ids_age ON request_ids (create_time);
