-- A stamp that moves whenever anything an SSO Response is built from
-- changes: the session (but its last_seen_at, which every visit touches),
-- its user, the user's group memberships and those groups. A replica keeps
-- the sessions it read in memory, with their user and groups, and posts a
-- Response built from one only while the stamp it read is still the
-- session's, checked in the commit of the Response (store.Visit.Session).
-- A deleted session, or one of a deleted user (ON DELETE CASCADE), has no
-- stamp. Session IDs are never reused, so a stamp per row is enough.
ALTER TABLE sessions ADD COLUMN stamp bigint NOT NULL DEFAULT 0;

CREATE FUNCTION sessions_next_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.stamp := OLD.stamp + 1;
    RETURN NEW;
END
$$;

-- Every column but last_seen_at and stamp (sqltable.Sessions.Cols): a new
-- column of sessions is added here too (TestSessionStampCoversColumns).
CREATE TRIGGER sessions_stamp BEFORE UPDATE OF id, user_id, session_index, authn_instant, created_at,
    expires_at, remote_addr, user_agent, second_factor, verified_at ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_next_stamp();

-- A user's row changed: each of their sessions moves.
CREATE FUNCTION users_stamp_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sessions SET stamp = stamp + 1 WHERE user_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_stamp_sessions AFTER UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_stamp_sessions();

-- A membership came or went: the member's sessions move.
CREATE FUNCTION group_members_stamp_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE sessions SET stamp = stamp + 1 WHERE user_id = OLD.user_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE sessions SET stamp = stamp + 1 WHERE user_id = NEW.user_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER group_members_stamp_sessions AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH ROW EXECUTE FUNCTION group_members_stamp_sessions();

-- A group changed or goes: its members' sessions move (before a delete,
-- while the memberships are still there).
CREATE FUNCTION groups_stamp_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sessions SET stamp = stamp + 1
    WHERE user_id IN (SELECT user_id FROM group_members WHERE group_id = OLD.id);
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER groups_stamp_sessions BEFORE UPDATE OR DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION groups_stamp_sessions();
