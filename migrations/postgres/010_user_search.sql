-- The users list pages by keyset: ORDER BY (and WHERE ... >) the case-folded
-- email in byte order, then id. users_email_lower_key sorts in the ICU
-- collation, so it serves neither; without this index every page sorts the
-- whole table.
CREATE INDEX users_email_order ON users ((lower(email COLLATE "und-x-icu") COLLATE "C"), id);
