// Package scim serves SCIM 2.0 (RFC 7643, RFC 7644) at /scim/v2 and
// flexidp's admin JSON API at /api/v1, for programs that hold an API
// token: provisioning connectors (Okta, Microsoft Entra ID, HR systems)
// and scripts. It is an adapter over internal/accounts: it translates
// requests into the service's calls and the service's errors into SCIM
// (or JSON) errors, and holds no rule of its own beyond the protocol's.
package scim
