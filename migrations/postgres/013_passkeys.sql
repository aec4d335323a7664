-- Passkeys (WebAuthn credentials), a second factor. A user may have
-- several; the credential ID is unique across users. Removing a user
-- removes their passkeys.
CREATE TABLE passkeys (
    id                 text        NOT NULL PRIMARY KEY,
    user_id            text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               text        NOT NULL,
    public_key         bytea       NOT NULL,
    sign_count         bigint      NOT NULL DEFAULT 0,
    transports         text[]      NOT NULL DEFAULT '{}',
    aaguid             bytea       NOT NULL,
    flags              bigint      NOT NULL DEFAULT 0,
    attestation_type   text        NOT NULL DEFAULT '',
    attestation_format text        NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    last_used_at       timestamptz NOT NULL
);

CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);
