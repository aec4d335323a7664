-- Settings of the running IdP that the CLI reads, such as the base URL
-- `idp serve` or `idp dev` last ran with (see store.SettingBaseURL).
CREATE TABLE settings (
    name       text        NOT NULL PRIMARY KEY,
    value      text        NOT NULL,
    updated_at timestamptz NOT NULL
);
