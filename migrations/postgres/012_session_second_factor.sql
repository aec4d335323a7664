-- What a session proved besides the password, for the admin console: the
-- second factor used at sign-in ('' for a password-only session) and when
-- the user last proved who they are (sign-in or re-verification before a
-- sensitive console action). Existing sessions are password-only as far as
-- the console is concerned: their admins sign in to the console again.
ALTER TABLE sessions ADD COLUMN second_factor text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN verified_at timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00';
