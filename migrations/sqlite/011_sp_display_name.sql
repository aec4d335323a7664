-- The name people read for a service provider on the login page, the
-- launcher and error pages ("Acme Support (Flex)"). Empty (every existing
-- SP) shows the internal name (see sp.ServiceProvider.DisplayName).
ALTER TABLE service_providers ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
