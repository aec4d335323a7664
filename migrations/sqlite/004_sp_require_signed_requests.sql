-- Whether a service provider with a registered signing certificate may
-- still send unsigned AuthnRequests and LogoutRequests. 0 (the default,
-- and every existing SP): once a certificate is registered, every request
-- must be signed with it (see sp.ServiceProvider.AllowUnsignedRequests).
ALTER TABLE service_providers ADD COLUMN allow_unsigned_requests INTEGER NOT NULL DEFAULT 0 CHECK (allow_unsigned_requests IN (0, 1));
