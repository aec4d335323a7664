-- Provisioning (SCIM) and the admin API.
--
-- external_id is the identifier the provisioning client (Okta, Entra ID,
-- an HR system) keeps for the user (SCIM externalId); '' when none.
ALTER TABLE users ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
CREATE INDEX users_external_id ON users (external_id) WHERE external_id <> '';

-- API tokens: the secret is shown once; the table holds its SHA-256 only.
CREATE TABLE api_tokens (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    secret_hash  TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    revoked_at   INTEGER NOT NULL
) STRICT;
