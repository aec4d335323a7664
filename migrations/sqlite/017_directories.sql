-- Upstream sources people sign in through (LDAP / Active Directory), and
-- the link of each user created just in time to the entry that created it.
-- The secret (bind password) is sealed at rest like the signing keys.
CREATE TABLE directories (
    name       TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    config     TEXT    NOT NULL,
    secret     BLOB    NOT NULL,
    domains    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE directory_links (
    user_id     TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    directory   TEXT    NOT NULL REFERENCES directories (name) ON DELETE CASCADE,
    external_id TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (directory, external_id)
) STRICT;
