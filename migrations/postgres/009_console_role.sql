-- What the user may do in the admin console: '' (no access), 'viewer',
-- 'manager' or 'owner' (users.ConsoleRole). Separate from the Flex roles;
-- granted with idp users grant, never by an import.
ALTER TABLE users ADD COLUMN console_role text NOT NULL DEFAULT ''
    CHECK (console_role IN ('', 'viewer', 'manager', 'owner'));
