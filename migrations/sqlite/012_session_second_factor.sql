-- What a session proved besides the password, for the admin console: the
-- second factor used at sign-in ('' for a password-only session) and when
-- the user last proved who they are (sign-in or re-verification before a
-- sensitive console action). Existing sessions are password-only as far as
-- the console is concerned: their admins sign in to the console again.
-- verified_at is in Unix microseconds; the default is the zero time.Time.
ALTER TABLE sessions ADD COLUMN second_factor TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN verified_at INTEGER NOT NULL DEFAULT -62135596800000000;
