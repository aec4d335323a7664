-- Groups carry a Flex profile (roles, team, program, typed attributes) that
-- their members receive (users.Effective). Membership goes with the user or
-- the group (ON DELETE CASCADE): no row is ever left behind.
CREATE TABLE groups (
    id          text        NOT NULL PRIMARY KEY,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    -- The SCIM client's identifier; '' when none, unique otherwise.
    external_id text        NOT NULL DEFAULT '',
    roles       text[]      NOT NULL DEFAULT '{}',
    team        text        NOT NULL DEFAULT '',
    program     text        NOT NULL DEFAULT '',
    attributes  jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Names are unique case-insensitively with Unicode case rules, as emails
-- are (migration 008).
CREATE UNIQUE INDEX groups_name_lower_key ON groups (lower(name COLLATE "und-x-icu"));
CREATE UNIQUE INDEX groups_external_id_key ON groups (external_id) WHERE external_id <> '';

CREATE TABLE group_members (
    group_id text NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

-- The primary key serves a group's members; this one serves a user's
-- groups (every sign-in) and the cascade when a user is deleted.
CREATE INDEX group_members_user_id_idx ON group_members (user_id, group_id);
