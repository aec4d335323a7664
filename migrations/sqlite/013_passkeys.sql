-- Passkeys (WebAuthn credentials), a second factor. A user may have
-- several; the credential ID is unique across users. Removing a user
-- removes their passkeys.
CREATE TABLE passkeys (
    id                 TEXT    NOT NULL PRIMARY KEY,
    user_id            TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               TEXT    NOT NULL,
    public_key         BLOB    NOT NULL,
    sign_count         INTEGER NOT NULL DEFAULT 0,
    -- JSON list.
    transports         TEXT    NOT NULL,
    aaguid             BLOB    NOT NULL,
    flags              INTEGER NOT NULL DEFAULT 0,
    attestation_type   TEXT    NOT NULL DEFAULT '',
    attestation_format TEXT    NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    last_used_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX passkeys_user_id ON passkeys (user_id);
