-- PEM certificates that verify a service provider's signed AuthnRequests
-- and LogoutRequests; empty: signatures are not checked (see
-- sp.ServiceProvider.SigningCertificatePEM).
ALTER TABLE service_providers ADD COLUMN signing_certificate_pem text NOT NULL DEFAULT '';
