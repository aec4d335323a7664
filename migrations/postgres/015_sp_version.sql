-- A version that changes on every write of a service provider, by any
-- replica or the CLI, and is never used twice (one sequence for every
-- SP): a replica keeps the SPs it read in memory and posts a Response built
-- from one only while the version it read is still current, checked in
-- the commit of the Response (store.Visit.SP).
CREATE SEQUENCE service_providers_version;

ALTER TABLE service_providers ADD COLUMN version bigint NOT NULL DEFAULT nextval('service_providers_version');

CREATE FUNCTION service_providers_next_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('service_providers_version');
    RETURN NEW;
END
$$;

CREATE TRIGGER service_providers_version BEFORE INSERT OR UPDATE ON service_providers
    FOR EACH ROW EXECUTE FUNCTION service_providers_next_version();
