-- Whether a service provider with a registered signing certificate may
-- still send unsigned AuthnRequests and LogoutRequests. false (the default,
-- and every existing SP): once a certificate is registered, every request
-- must be signed with it (see sp.ServiceProvider.AllowUnsignedRequests).
ALTER TABLE service_providers ADD COLUMN allow_unsigned_requests boolean NOT NULL DEFAULT false;
