-- Counts changes of a user's credentials (password, second factor
-- removed, disabled); a sign-in whose password was checked under an
-- older version must start again (users.User.CredentialVersion).
ALTER TABLE users ADD COLUMN credential_version bigint NOT NULL DEFAULT 0;

-- Enrolments left pending by older versions, whose secret was shown to
-- whoever reached the enrolment next. A secret now lives only in the
-- enrolling browser's sign-in state until it is confirmed.
DELETE FROM mfa WHERE confirmed_at < '1970-01-01 00:00:00+00';
