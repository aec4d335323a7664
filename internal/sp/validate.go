package sp

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// ValidationError reports an SP field that cannot be stored.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Compiled on first use, not at package init, which every start pays
// (docs/performance.md, "Idle memory").
var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`) })

// MinSessionNotOnOrAfter mirrors the Flex token TTL: a shorter SAML
// session would end Flex sessions early.
const MinSessionNotOnOrAfter = time.Hour

// maxRelayState is the SAML bindings limit on RelayState (80 bytes); the
// Default Redirect URL is sent as RelayState.
const maxRelayState = 80

// Validate checks every field before the SP is stored.
func (s *ServiceProvider) Validate() error {
	if !nameRE().MatchString(s.Name) {
		return &ValidationError{"name", fmt.Sprintf("%q must be 1-63 lower-case letters, digits or dashes (e.g. flex-prod)", s.Name)}
	}
	if err := checkDisplayName(s.DisplayName); err != nil {
		return &ValidationError{"display_name", err.Error()}
	}
	if strings.TrimSpace(s.EntityID) != s.EntityID || s.EntityID == "" || len(s.EntityID) > 1024 {
		return &ValidationError{"entity_id", "is required, at most 1024 characters, without surrounding spaces"}
	}
	if u, err := url.Parse(s.EntityID); err != nil || u.Scheme == "" {
		return &ValidationError{"entity_id", fmt.Sprintf("%q is not a URI (e.g. urn:flex:JQ... or https://...)", s.EntityID)}
	}
	if len(s.ACSURLs) == 0 {
		return &ValidationError{"acs_urls", "at least one ACS URL is required"}
	}
	seen := map[string]bool{}
	for _, a := range s.ACSURLs {
		if err := checkURL(a, true); err != nil {
			return &ValidationError{"acs_urls", err.Error()}
		}
		if seen[a] {
			return &ValidationError{"acs_urls", fmt.Sprintf("%q is listed twice", a)}
		}
		seen[a] = true
	}
	if s.DefaultRedirectURL != "" {
		if err := checkURL(s.DefaultRedirectURL, false); err != nil {
			return &ValidationError{"default_redirect_url", err.Error()}
		}
		if len(s.DefaultRedirectURL) > maxRelayState {
			return &ValidationError{"default_redirect_url", fmt.Sprintf("is %d bytes; it is sent as RelayState, which SAML limits to %d bytes", len(s.DefaultRedirectURL), maxRelayState)}
		}
	}
	if s.SLOURL != "" {
		if err := checkURL(s.SLOURL, false); err != nil {
			return &ValidationError{"slo_url", err.Error()}
		}
	}
	if s.SessionNotOnOrAfter != 0 && s.SessionNotOnOrAfter < MinSessionNotOnOrAfter {
		return &ValidationError{"session_not_on_or_after", fmt.Sprintf("%s is shorter than the 1h Flex token lifetime; use 8h-10h (a shift) or leave it unset", s.SessionNotOnOrAfter)}
	}
	if err := validateCertificates(s.SigningCertificatePEM); err != nil {
		return &ValidationError{"signing_certificate", err.Error()}
	}
	if err := s.Policy.Validate(); err != nil {
		return err
	}
	return nil
}

// MaxDisplayName is the longest display name, in characters.
const MaxDisplayName = 100

// checkDisplayName accepts an empty display name (Name is shown), or
// 1-100 characters of valid UTF-8 without control characters or
// surrounding spaces. Markup is allowed as text: every page escapes it.
func checkDisplayName(d string) error {
	if d == "" {
		return nil
	}
	if !utf8.ValidString(d) {
		return fmt.Errorf("is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(d); n > MaxDisplayName {
		return fmt.Errorf("is %d characters; at most %d are allowed", n, MaxDisplayName)
	}
	if strings.TrimSpace(d) != d {
		return fmt.Errorf("%q must not start or end with spaces", d)
	}
	for _, r := range d {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%q contains a control character or line break", d)
		}
	}
	return nil
}

// checkURL accepts absolute https URLs, and http only for loopback hosts
// (local Flex plugin development).
func checkURL(raw string, acs bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q must not contain a fragment or credentials", raw)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		what := "URL"
		if acs {
			what = "ACS URL"
		}
		return fmt.Errorf("%s %q must use https (http is allowed only for localhost)", what, raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateCertificates checks that bundle holds only PEM certificates that
// parse (and at least one, when it is not empty).
func validateCertificates(bundle string) error {
	if strings.TrimSpace(bundle) == "" {
		return nil
	}
	rest, n := []byte(bundle), 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("PEM block %q is not a CERTIFICATE", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse: %v", n+1, err)
		}
		n++
	}
	if n == 0 || strings.TrimSpace(string(rest)) != "" {
		return fmt.Errorf("is not a PEM certificate bundle")
	}
	return nil
}
