-- The console's users search by a substring of the email or name read every
-- user (a scan of 100,000 rows: 45-83 ms, and its count as much again, at the
-- edge of the page's 100 ms budget). Trigram indexes answer a substring of
-- three or more characters from the index (LIKE '%...%' on the folded
-- columns of migration 010). pg_trgm is a trusted extension (PostgreSQL 13+):
-- the database owner may create it, and managed services (RDS, Cloud SQL,
-- Azure) allow it. fastupdate is off: a bulk import would otherwise leave
-- its rows in the index's pending list, which every search then reads in
-- full until a vacuum.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_email_fold_trgm ON users USING gin (email_fold gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX users_full_name_fold_trgm ON users USING gin (full_name_fold gin_trgm_ops) WITH (fastupdate = off);
