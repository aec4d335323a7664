-- flexidp schema for PostgreSQL (pgx).
--
-- Conventions:
--   * Times are timestamptz; the store writes and returns them in UTC,
--     truncated to microseconds, which is PostgreSQL's precision.
--   * Ids and names are text chosen by the application.
--   * Attribute sets and release policies are jsonb in the typed JSON form of
--     internal/attributes; the Go types validate them when they are decoded.
--   * Emails are unique and looked up case-insensitively through lower(email).
--   * schema_migrations is created by the migrator itself before this file
--     runs, and each file runs in its own transaction.

CREATE TABLE users (
    id            text        NOT NULL PRIMARY KEY,
    email         text        NOT NULL,
    full_name     text        NOT NULL DEFAULT '',
    given_name    text        NOT NULL DEFAULT '',
    family_name   text        NOT NULL DEFAULT '',
    image_url     text        NOT NULL DEFAULT '',
    roles         text[]      NOT NULL DEFAULT '{}',
    team          text        NOT NULL DEFAULT '',
    program       text        NOT NULL DEFAULT '',
    attributes    jsonb       NOT NULL DEFAULT '{}',
    password_hash text        NOT NULL DEFAULT '',
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- Uniqueness and lookups by email ignore case; ListUsers orders by it too.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE service_providers (
    name                    text        NOT NULL PRIMARY KEY,
    entity_id               text        NOT NULL UNIQUE,
    acs_urls                text[]      NOT NULL DEFAULT '{}',
    default_redirect_url    text        NOT NULL DEFAULT '',
    -- Nanoseconds (time.Duration); 0 means the attribute is omitted.
    session_not_on_or_after bigint      NOT NULL DEFAULT 0,
    assignment_required     boolean     NOT NULL DEFAULT false,
    policy                  jsonb       NOT NULL DEFAULT '{}',
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);

CREATE TABLE sp_assignments (
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sp_name    text        NOT NULL REFERENCES service_providers (name) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, sp_name)
);

-- The primary key serves lookups by user; this one serves the cascade when
-- an SP is deleted.
CREATE INDEX sp_assignments_sp_name_idx ON sp_assignments (sp_name);

CREATE TABLE sessions (
    -- Hex SHA-256 of the cookie token, never the token itself.
    id            text        NOT NULL PRIMARY KEY,
    user_id       text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_index text        NOT NULL,
    authn_instant timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    remote_addr   text        NOT NULL DEFAULT '',
    user_agent    text        NOT NULL DEFAULT ''
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- One-time identifiers (AuthnRequest IDs, ...) and when they may be reused.
CREATE TABLE consumed_ids (
    key        text        NOT NULL PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE INDEX consumed_ids_expires_at_idx ON consumed_ids (expires_at);

CREATE TABLE signing_keys (
    id              text        NOT NULL PRIMARY KEY,
    private_key     bytea       NOT NULL,
    certificate_pem bytea       NOT NULL,
    state           text        NOT NULL CHECK (state IN ('active', 'next', 'retired')),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- At most one active key: two replicas racing to create or activate a key
-- cannot both win.
CREATE UNIQUE INDEX signing_keys_one_active_idx ON signing_keys (state) WHERE state = 'active';
CREATE INDEX signing_keys_created_at_idx ON signing_keys (created_at);
