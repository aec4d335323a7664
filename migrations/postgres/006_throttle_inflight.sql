-- Sign-in attempts let through and not yet concluded, per throttle key,
-- counted apart from failures: concurrent correct sign-ins of one account
-- are not taken for failures, and the lock threshold still bounds
-- failures and attempts in flight together.
ALTER TABLE throttles
    ADD COLUMN in_flight    integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_attempt timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00';
