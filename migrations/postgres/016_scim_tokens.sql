-- Provisioning (SCIM) and the admin API.
--
-- external_id is the identifier the provisioning client (Okta, Entra ID,
-- an HR system) keeps for the user (SCIM externalId); '' when none.
ALTER TABLE users ADD COLUMN external_id text NOT NULL DEFAULT '';
CREATE INDEX users_external_id_idx ON users (external_id) WHERE external_id <> '';

-- API tokens: the secret is shown once; the table holds its SHA-256 only.
CREATE TABLE api_tokens (
    id           text        NOT NULL PRIMARY KEY,
    name         text        NOT NULL UNIQUE,
    secret_hash  text        NOT NULL,
    scopes       text[]      NOT NULL,
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    revoked_at   timestamptz NOT NULL
);
