-- The admin console's users page: keyset paging and substring search over
-- 100,000 users (storetest.BenchmarkSearch).
--
-- ListUsers orders (and pages with WHERE (...) > (...)) by the case-folded
-- email in byte order, then id. users_email_lower_key sorts in the ICU
-- collation, so it serves neither; without this index every page sorts the
-- whole table.
CREATE INDEX users_email_order ON users ((lower(email COLLATE "und-x-icu") COLLATE "C"), id);

-- The substring search compares case-folded text. Folding with ICU on every
-- row of every search cost 2.4 ms per thousand users; the folded email and
-- name are kept instead, computed by PostgreSQL on every write (so no
-- writer can forget them).
ALTER TABLE users
    ADD COLUMN email_fold text COLLATE "C"
        GENERATED ALWAYS AS (lower(email COLLATE "und-x-icu")) STORED,
    ADD COLUMN full_name_fold text COLLATE "C"
        GENERATED ALWAYS AS (lower(full_name COLLATE "und-x-icu")) STORED;
