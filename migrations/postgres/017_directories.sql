-- Upstream sources people sign in through (LDAP / Active Directory), and
-- the link of each user created just in time to the entry that created it.
-- The secret (bind password) is sealed at rest like the signing keys.
CREATE TABLE directories (
    name       text        NOT NULL PRIMARY KEY,
    kind       text        NOT NULL,
    config     text        NOT NULL,
    secret     bytea       NOT NULL,
    domains    text[]      NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE directory_links (
    user_id     text        NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    directory   text        NOT NULL REFERENCES directories (name) ON DELETE CASCADE,
    external_id text        NOT NULL,
    created_at  timestamptz NOT NULL,
    UNIQUE (directory, external_id)
);
