-- Groups carry a Flex profile (roles, team, program, typed attributes) that
-- their members receive (users.Effective). Membership goes with the user or
-- the group (ON DELETE CASCADE): no row is ever left behind.
CREATE TABLE groups (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    -- strings.ToLower(name), computed in Go like email_key: unique names
    -- case-insensitively.
    name_key    TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL,
    -- The SCIM client's identifier; '' when none, unique otherwise.
    external_id TEXT    NOT NULL,
    roles       TEXT    NOT NULL,
    team        TEXT    NOT NULL,
    program     TEXT    NOT NULL,
    attributes  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX groups_external_id ON groups (external_id) WHERE external_id <> '';

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;

-- The primary key serves a group's members; this one serves a user's
-- groups (every sign-in) and the cascade when a user is deleted.
CREATE INDEX group_members_user_id ON group_members (user_id, group_id);
