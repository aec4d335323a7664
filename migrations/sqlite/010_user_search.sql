-- The users list pages by keyset: ORDER BY email_key, id and
-- WHERE (email_key, id) > (?, ?). This index serves both terms of the row
-- value, so a page deep in the list reads only its own rows.
CREATE INDEX users_email_key_id ON users (email_key, id);
