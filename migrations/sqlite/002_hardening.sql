-- Issue 7, "harden the front door": sign-in throttling, the audit trail,
-- second factors, password links, and single logout URLs of SPs.

-- Where a service provider receives LogoutResponses; '' means it does not
-- take part in single logout.
ALTER TABLE service_providers ADD COLUMN slo_url TEXT NOT NULL DEFAULT '';

-- Failed sign-in counts per account, client address or second factor.
CREATE TABLE throttles (
    key          TEXT    NOT NULL PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX throttles_last_failure ON throttles (last_failure);

-- The audit trail. No foreign keys: it outlives the users and SPs it names.
-- email_key is the lower-cased email (strings.ToLower), for searches.
CREATE TABLE audit_events (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    email_key   TEXT    NOT NULL,
    sp          TEXT    NOT NULL,
    remote_addr TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    details     TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_events_user_id ON audit_events (user_id, id);
CREATE INDEX audit_events_email_key ON audit_events (email_key, id);
CREATE INDEX audit_events_at ON audit_events (at);

-- TOTP second factors; the secret is sealed by the application.
CREATE TABLE mfa (
    user_id        TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret         BLOB    NOT NULL,
    confirmed_at   INTEGER NOT NULL,
    -- JSON list of the hex SHA-256 of the unused recovery codes.
    recovery_codes TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

-- Single-use password links (invitations, resets); only the hash of the
-- secret in the link is stored.
CREATE TABLE user_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX user_tokens_user_id ON user_tokens (user_id);
CREATE INDEX user_tokens_expires_at ON user_tokens (expires_at);
