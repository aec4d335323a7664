package saml

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/flexidp/flexidp/internal/attributes"
)

// Timing of what we issue. Assertions are short-lived bearer tokens: the
// browser posts them straight on, so minutes are plenty.
const (
	// DefaultValidity is how long an assertion may be used after it is issued.
	DefaultValidity = 5 * time.Minute
	// DefaultClockSkew is how far NotBefore is set in the past, so an SP
	// whose clock is slightly behind ours still accepts the assertion.
	DefaultClockSkew = 2 * time.Minute
	// MinSessionNotOnOrAfter is the shortest SessionNotOnOrAfter flexidp
	// sends: Flex refreshes its token hourly, a shorter session breaks it.
	MinSessionNotOnOrAfter = time.Hour
	// MaxRelayState is the longest RelayState flexidp sends in an
	// unsolicited Response (saml-bindings-2.0-os §3.5.3: 80 bytes).
	MaxRelayState = 80
	// MaxEchoedRelayState bounds the RelayState accepted from an SP and
	// echoed back; anything longer is hostile.
	MaxEchoedRelayState = 1024
)

// KeySet is the signing material: the active key and certificate, plus
// certificates published in metadata but not yet (or no longer) used.
type KeySet struct {
	ID          string
	Signer      crypto.Signer
	Certificate *x509.Certificate
	Published   []*x509.Certificate
}

// Config configures an IdP.
type Config struct {
	// EntityID is our entity ID; it is also the metadata URL.
	EntityID string
	// SSOURL is where SPs send AuthnRequests.
	SSOURL string
	// SLOURL, if set, is where SPs send LogoutRequests (single logout); it
	// is published in metadata for the HTTP-Redirect and HTTP-POST
	// bindings.
	SLOURL string
	// SecureTransport says the user signs in over https; it selects the
	// AuthnContextClassRef (PasswordProtectedTransport vs Password).
	SecureTransport bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Validity and ClockSkew default to DefaultValidity and DefaultClockSkew.
	Validity  time.Duration
	ClockSkew time.Duration
}

// IdP issues signed SAML Responses. It is safe for concurrent use; keys
// can be swapped at run time with SetKeys (rotation).
type IdP struct {
	cfg    Config
	entity url.URL
	sso    url.URL
	slo    url.URL
	keys   atomic.Pointer[KeySet]
}

// New returns an IdP. Keys must be set with SetKeys before it signs.
func New(cfg Config) (*IdP, error) {
	entity, err := url.Parse(cfg.EntityID)
	if err != nil || entity.Scheme == "" {
		return nil, fmt.Errorf("entity ID %q is not an absolute URL", cfg.EntityID)
	}
	sso, err := url.Parse(cfg.SSOURL)
	if err != nil || sso.Scheme == "" {
		return nil, fmt.Errorf("SSO URL %q is not an absolute URL", cfg.SSOURL)
	}
	var slo url.URL
	if cfg.SLOURL != "" {
		u, err := url.Parse(cfg.SLOURL)
		if err != nil || u.Scheme == "" {
			return nil, fmt.Errorf("SLO URL %q is not an absolute URL", cfg.SLOURL)
		}
		slo = *u
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Validity == 0 {
		cfg.Validity = DefaultValidity
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	return &IdP{cfg: cfg, entity: *entity, sso: *sso, slo: slo}, nil
}

// SetKeys installs the signing material.
func (i *IdP) SetKeys(k *KeySet) { i.keys.Store(k) }

// Keys returns the current signing material, or nil.
func (i *IdP) Keys() *KeySet { return i.keys.Load() }

// EntityID returns our entity ID.
func (i *IdP) EntityID() string { return i.cfg.EntityID }

// SSOURL returns the single sign-on URL.
func (i *IdP) SSOURL() string { return i.cfg.SSOURL }

// SLOURL returns the single logout URL, or "".
func (i *IdP) SLOURL() string { return i.cfg.SLOURL }

func (i *IdP) now() time.Time { return i.cfg.Now().UTC() }

// errNoKeys is returned when signing is attempted before SetKeys.
var errNoKeys = errors.New("saml: no signing key loaded")

// provider builds the crewjam IdentityProvider for one operation from the
// current keys. It is a plain struct, cheap to build.
func (i *IdP) provider(lookup crewjam.ServiceProviderProvider) (*crewjam.IdentityProvider, error) {
	ks := i.keys.Load()
	if ks == nil {
		return nil, errNoKeys
	}
	return &crewjam.IdentityProvider{
		Signer:                  ks.Signer,
		Certificate:             ks.Certificate,
		ExtraCertificates:       ks.Published,
		MetadataURL:             i.entity,
		SSOURL:                  i.sso,
		LogoutURL:               i.slo,
		LogoutBindings:          []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding},
		ServiceProviderProvider: lookup,
		// crewjam's historical default is SHA-1; Flex and every modern SP
		// want SHA-256.
		SignatureMethod: dsig.RSASHA256SignatureMethod,
		Clock:           dsig.NewFakeClockAt(i.now()),
		NameIDFormats: []crewjam.NameIDFormat{
			crewjam.NameIDFormat(attributes.NameIDFormatEmail),
			crewjam.NameIDFormat(attributes.NameIDFormatPersistent),
		},
	}, nil
}
