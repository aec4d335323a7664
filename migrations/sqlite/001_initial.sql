-- flexidp schema for SQLite (modernc.org/sqlite).
--
-- Conventions:
--   * Times are INTEGER microseconds since the Unix epoch, UTC. The store
--     returns them truncated to microseconds, so nothing is lost.
--   * Lists and attribute sets are TEXT holding JSON; the Go types validate
--     them when they are decoded.
--   * Case-insensitive keys (email_key, full_name_key) are lower-cased in Go
--     with strings.ToLower: SQLite's lower() only folds ASCII.
--   * Tables are STRICT, so a value of the wrong type is refused, not coerced.
--   * schema_migrations is created by the migrator itself before this file runs.

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL,
    email_key     TEXT    NOT NULL UNIQUE,
    full_name     TEXT    NOT NULL,
    full_name_key TEXT    NOT NULL,
    given_name    TEXT    NOT NULL,
    family_name   TEXT    NOT NULL,
    image_url     TEXT    NOT NULL,
    roles         TEXT    NOT NULL,
    team          TEXT    NOT NULL,
    program       TEXT    NOT NULL,
    attributes    TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE service_providers (
    name                    TEXT    NOT NULL PRIMARY KEY,
    entity_id               TEXT    NOT NULL UNIQUE,
    acs_urls                TEXT    NOT NULL,
    default_redirect_url    TEXT    NOT NULL,
    -- Nanoseconds (time.Duration); 0 means the attribute is omitted.
    session_not_on_or_after INTEGER NOT NULL,
    assignment_required     INTEGER NOT NULL CHECK (assignment_required IN (0, 1)),
    policy                  TEXT    NOT NULL,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
) STRICT;

CREATE TABLE sp_assignments (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sp_name TEXT NOT NULL REFERENCES service_providers (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, sp_name)
) STRICT, WITHOUT ROWID;

-- The primary key serves lookups by user; this one serves the cascade when
-- an SP is deleted.
CREATE INDEX sp_assignments_sp_name ON sp_assignments (sp_name);

CREATE TABLE sessions (
    -- Hex SHA-256 of the cookie token, never the token itself.
    id            TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_index TEXT    NOT NULL,
    authn_instant INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    remote_addr   TEXT    NOT NULL,
    user_agent    TEXT    NOT NULL
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id, created_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- One-time identifiers (AuthnRequest IDs, ...) and when they may be reused.
CREATE TABLE consumed_ids (
    key        TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX consumed_ids_expires_at ON consumed_ids (expires_at);

CREATE TABLE signing_keys (
    id              TEXT    NOT NULL PRIMARY KEY,
    private_key     BLOB    NOT NULL,
    certificate_pem BLOB    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('active', 'next', 'retired')),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

-- At most one active key: two replicas racing to create or activate a key
-- cannot both win.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';
CREATE INDEX signing_keys_created_at ON signing_keys (created_at);
