-- Emails are compared case-insensitively with Unicode case rules, whatever
-- the database's locale: lower() under the ICU root collation folds É to é
-- also in a database created with the C locale, where plain lower() folds
-- ASCII only (and "Émile@…" and "émile@…" could then be two accounts).
-- SQLite's store folds in Go (strings.ToLower) for the same result.
-- Needs PostgreSQL built with ICU (every mainstream build since 10).
DROP INDEX users_email_lower_key;
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email COLLATE "und-x-icu"));
DROP INDEX audit_events_email_idx;
CREATE INDEX audit_events_email_idx ON audit_events (lower(email COLLATE "und-x-icu"), id);
