// Package saml is flexidp's side of the SAML 2.0 Web Browser SSO profile:
// it decodes and validates AuthnRequests (HTTP-Redirect and HTTP-POST
// bindings), builds the Assertion and Response for a user and a service
// provider, and signs both with RSA-SHA256 and exclusive canonicalisation.
// Assertions are never encrypted: Flex does not support it.
//
// It wraps github.com/crewjam/saml's building blocks (request parsing and
// validation, the Response/Assertion types, goxmldsig signing) but not its
// ready-made handlers: this package knows nothing of HTTP sessions, SQL or
// templates. In: a request, a user's released attributes and an SP.
// Out: signed XML ready for the HTTP-POST binding.
package saml
