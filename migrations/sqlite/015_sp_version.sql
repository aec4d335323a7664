-- A version that changes on every write of a service provider, by any
-- process, and is never used twice (one counter for every SP): a process
-- keeps the SPs it read in memory and posts a Response built from one only
-- while the version it read is still current, checked in the commit of
-- the Response (store.Visit.SP).
CREATE TABLE sp_version_counter (n INTEGER NOT NULL) STRICT;
INSERT INTO sp_version_counter (n) VALUES (0);

ALTER TABLE service_providers ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER service_providers_version_insert AFTER INSERT ON service_providers
BEGIN
    UPDATE sp_version_counter SET n = n + 1;
    UPDATE service_providers SET version = (SELECT n FROM sp_version_counter) WHERE name = NEW.name;
END;

-- The store never writes version itself, so every other update bumps it;
-- the trigger's own update (version changed) does not fire it again.
CREATE TRIGGER service_providers_version_update AFTER UPDATE ON service_providers
WHEN NEW.version = OLD.version
BEGIN
    UPDATE sp_version_counter SET n = n + 1;
    UPDATE service_providers SET version = (SELECT n FROM sp_version_counter) WHERE name = NEW.name;
END;

-- Existing SPs get versions of their own.
UPDATE service_providers SET name = name;
