-- Sign-in attempts let through and not yet concluded, per throttle key,
-- counted apart from failures: concurrent correct sign-ins of one account
-- are not taken for failures, and the lock threshold still bounds
-- failures and attempts in flight together. last_attempt is in
-- microseconds since 1970 like the other times; the default is
-- 0001-01-01, the zero time.
ALTER TABLE throttles ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0;
ALTER TABLE throttles ADD COLUMN last_attempt INTEGER NOT NULL DEFAULT -62135596800000000;
