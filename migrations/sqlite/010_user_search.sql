-- The admin console's users page: keyset paging and search over 100,000
-- users (storetest.BenchmarkSearch).
--
-- ListUsers orders and pages by (email_key, id). The index also holds every
-- column a search tests (full_name_key, roles, team, disabled), so a search
-- or a count reads the index alone, not the users' whole rows (hashes,
-- attributes): a substring search that reads every user took 92 ms with
-- the rows, and a count by role 52 ms.
CREATE INDEX users_search ON users (email_key, id, full_name_key, roles, team, disabled);
