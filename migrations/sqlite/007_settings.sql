-- Settings of the running IdP that the CLI reads, such as the base URL
-- `idp serve` or `idp dev` last ran with (see store.SettingBaseURL).
CREATE TABLE settings (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
