-- Keys that sign the control plane's OAuth access tokens. A key signs
-- while it is the newest not retired; once retired it stays published (in
-- the JWKS) until the tokens it signed have expired, then it is deleted.
-- private_key is a PKCS#8 PEM.
CREATE TABLE signing_keys (
  kid         TEXT PRIMARY KEY,
  algorithm   TEXT NOT NULL,
  private_key TEXT NOT NULL,
  create_time BIGINT NOT NULL,
  retire_time BIGINT NOT NULL
);
