-- Issue 7, "harden the front door": sign-in throttling, the audit trail,
-- second factors, password links, and single logout URLs of SPs.

-- Where a service provider receives LogoutResponses; '' means it does not
-- take part in single logout.
ALTER TABLE service_providers ADD COLUMN slo_url text NOT NULL DEFAULT '';

-- Failed sign-in counts per account, client address or second factor,
-- shared by every replica. Zero times are stored as 0001-01-01.
CREATE TABLE throttles (
    key          text        NOT NULL PRIMARY KEY,
    failures     integer     NOT NULL,
    last_failure timestamptz NOT NULL,
    locked_until timestamptz NOT NULL
);

CREATE INDEX throttles_last_failure_idx ON throttles (last_failure);

-- The audit trail. No foreign keys: it outlives the users and SPs it names.
CREATE TABLE audit_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    action      text        NOT NULL,
    actor       text        NOT NULL DEFAULT '',
    user_id     text        NOT NULL DEFAULT '',
    email       text        NOT NULL DEFAULT '',
    sp          text        NOT NULL DEFAULT '',
    remote_addr text        NOT NULL DEFAULT '',
    reason      text        NOT NULL DEFAULT '',
    -- JSON text, kept as written (jsonb would reorder it).
    details     text        NOT NULL DEFAULT ''
);

CREATE INDEX audit_events_user_id_idx ON audit_events (user_id, id);
CREATE INDEX audit_events_email_idx ON audit_events (lower(email), id);
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- TOTP second factors; the secret is sealed by the application.
CREATE TABLE mfa (
    user_id        text        NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret         bytea       NOT NULL,
    confirmed_at   timestamptz NOT NULL,
    -- Hex SHA-256 of the unused recovery codes.
    recovery_codes text[]      NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

-- Single-use password links (invitations, resets); only the hash of the
-- secret in the link is stored.
CREATE TABLE user_tokens (
    id         text        NOT NULL PRIMARY KEY,
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX user_tokens_user_id_idx ON user_tokens (user_id);
CREATE INDEX user_tokens_expires_at_idx ON user_tokens (expires_at);
