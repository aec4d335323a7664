-- A stamp that moves whenever anything an SSO Response is built from
-- changes: the session (but its last_seen_at, which every visit touches),
-- its user, the user's group memberships and those groups. The server
-- keeps the sessions it read in memory, with their user and groups, and
-- posts a Response built from one only while the stamp it read is still
-- the session's, checked in the commit of the Response
-- (store.Visit.Session); the CLI writes the same file from another
-- process. A deleted session, or one of a deleted user (ON DELETE
-- CASCADE), has no stamp. Session IDs are never reused, so a stamp per row
-- is enough.
ALTER TABLE sessions ADD COLUMN stamp INTEGER NOT NULL DEFAULT 0;

-- Every column but last_seen_at and stamp (sqltable.Sessions.Cols): a new
-- column of sessions is added here too (TestSessionStampCoversColumns).
-- The trigger's own update (of stamp) does not fire it again.
CREATE TRIGGER sessions_stamp AFTER UPDATE OF id, user_id, session_index, authn_instant, created_at,
    expires_at, remote_addr, user_agent, second_factor, verified_at ON sessions
BEGIN
    UPDATE sessions SET stamp = stamp + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER users_stamp_sessions AFTER UPDATE ON users
BEGIN
    UPDATE sessions SET stamp = stamp + 1 WHERE user_id = OLD.id;
END;

CREATE TRIGGER group_members_stamp_sessions_insert AFTER INSERT ON group_members
BEGIN
    UPDATE sessions SET stamp = stamp + 1 WHERE user_id = NEW.user_id;
END;

CREATE TRIGGER group_members_stamp_sessions_update AFTER UPDATE ON group_members
BEGIN
    UPDATE sessions SET stamp = stamp + 1 WHERE user_id IN (OLD.user_id, NEW.user_id);
END;

CREATE TRIGGER group_members_stamp_sessions_delete AFTER DELETE ON group_members
BEGIN
    UPDATE sessions SET stamp = stamp + 1 WHERE user_id = OLD.user_id;
END;

-- A group changed or goes: its members' sessions move (before a delete,
-- while the memberships are still there).
CREATE TRIGGER groups_stamp_sessions_update AFTER UPDATE ON groups
BEGIN
    UPDATE sessions SET stamp = stamp + 1
    WHERE user_id IN (SELECT user_id FROM group_members WHERE group_id = OLD.id);
END;

CREATE TRIGGER groups_stamp_sessions_delete BEFORE DELETE ON groups
BEGIN
    UPDATE sessions SET stamp = stamp + 1
    WHERE user_id IN (SELECT user_id FROM group_members WHERE group_id = OLD.id);
END;
