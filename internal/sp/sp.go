// Package sp holds the service provider model: an SP is configured by
// hand (entity ID, ACS URLs), and Flex presets derive those values from
// an ACS URL. It performs no I/O.
package sp

import (
	"crypto/x509"
	"encoding/pem"
	"time"

	"github.com/flexidp/flexidp/internal/attributes"
)

// ServiceProvider is a SAML service provider flexidp answers, typically a
// Flex account (Enhanced or Legacy SSO).
type ServiceProvider struct {
	// Name is a short unique handle ([a-z0-9-], 1-63 chars) used in URLs
	// (/sso/idp/{name}) and on the command line.
	Name string
	// DisplayName is what people read on the login page, the launcher and
	// error pages ("Acme Support (Flex)"): 1-100 characters, no control
	// characters. Empty shows Name (see Label).
	DisplayName string
	// EntityID is the SP's entity ID, the Audience of our assertions. Unique.
	EntityID string
	// ACSURLs are the registered assertion consumer service URLs (HTTP-POST
	// binding). The first is the default, used for IdP-initiated login.
	// A Response is never sent anywhere else.
	ACSURLs []string
	// DefaultRedirectURL is sent as RelayState on IdP-initiated login
	// (the Flex "Default Redirect URL"). Optional.
	DefaultRedirectURL string
	// SessionNotOnOrAfter, when non-zero, is added to AuthnInstant and sent
	// as SessionNotOnOrAfter; it must be at least one hour (the Flex token
	// TTL). Zero omits it, as Flex recommends.
	SessionNotOnOrAfter time.Duration
	// SLOURL is the SP's SingleLogoutService: where flexidp sends the
	// LogoutResponse to a LogoutRequest from this SP. Empty means the SP
	// does not take part in single logout; a LogoutResponse is never sent
	// anywhere else.
	SLOURL string
	// SigningCertificatePEM holds the PEM certificates the SP signs its
	// AuthnRequests (and LogoutRequests) with. When set, every request must
	// carry a signature that verifies with one of them (unless
	// AllowUnsignedRequests). When empty, a signature is ignored: an
	// unsigned request would be accepted anyway, and Responses only ever go
	// to the registered ACS URLs.
	SigningCertificatePEM string
	// AllowUnsignedRequests turns off "require signed requests" for an SP
	// with a registered certificate: unsigned requests are then accepted,
	// and only a signature that is present is checked. The zero value, the
	// default, requires signed requests once a certificate is registered.
	AllowUnsignedRequests bool
	// AssignmentRequired limits sign-in to users assigned to this SP.
	AssignmentRequired bool
	// Policy says which attributes the SP receives and how.
	Policy    attributes.Policy
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Label is the name people read: DisplayName, or Name when it is unset.
func (s *ServiceProvider) Label() string {
	if s.DisplayName != "" {
		return s.DisplayName
	}
	return s.Name
}

// SigningCertificates returns the DER certificates of
// SigningCertificatePEM (those that parse; Validate refuses the rest).
func (s *ServiceProvider) SigningCertificates() [][]byte {
	var out [][]byte
	rest := []byte(s.SigningCertificatePEM)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return out
		}
		if block.Type == "CERTIFICATE" {
			if _, err := x509.ParseCertificate(block.Bytes); err == nil {
				out = append(out, block.Bytes)
			}
		}
	}
}

// RequiresSignedRequests reports whether every AuthnRequest and
// LogoutRequest of the SP must be signed with one of its registered
// certificates: it has one, and AllowUnsignedRequests is not set.
func (s *ServiceProvider) RequiresSignedRequests() bool {
	return !s.AllowUnsignedRequests && len(s.SigningCertificates()) > 0
}
