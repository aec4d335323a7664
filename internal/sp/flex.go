package sp

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// Kinds of Flex SSO configuration an ACS URL reveals.
const (
	FlexEnhanced = "flex-enhanced" // login.flex.<region>.twilio.com/login/callback?connection=JQ...
	FlexLegacy   = "flex-legacy"   // iam.twilio.com/v1/Accounts/AC.../saml2
	Generic      = "generic"
)

// Compiled on first use, not at package init, which every start pays
// (docs/performance.md, "Idle memory").
var (
	connectionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^JQ[0-9a-fA-F]{32}$`) })
	legacyPathRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/v1/Accounts/(AC[0-9a-fA-F]{32})/saml2/?$`) })
	// legacyShapeRE is a Legacy SSO path with any account segment, to name
	// a malformed account SID rather than refuse the URL as unrecognised.
	legacyShapeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/v1/Accounts/([^/]*)/saml2/?$`) })
)

// FlexPreset derives the SP entity ID (Audience) from a Flex ACS URL:
// Enhanced SSO (…/login/callback?connection=JQ…) gives urn:flex:JQ…;
// Legacy SSO (…/v1/Accounts/AC…/saml2) gives …/saml2/metadata. Any other
// URL cannot be guessed: the caller must give the audience.
func FlexPreset(acs string) (entityID, kind string, err error) {
	u, err := url.Parse(acs)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("%q is not an absolute URL", acs)
	}
	if conn := u.Query().Get("connection"); strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/login/callback") && conn != "" {
		if !connectionRE().MatchString(conn) {
			return "", "", fmt.Errorf("connection %q in the ACS URL is not a Flex SSO connection ID (JQ followed by 32 hex digits)", conn)
		}
		return "urn:flex:" + conn, FlexEnhanced, nil
	}
	if m := legacyPathRE().FindStringSubmatch(u.Path); m != nil {
		return u.Scheme + "://" + u.Host + "/v1/Accounts/" + m[1] + "/saml2/metadata", FlexLegacy, nil
	}
	if m := legacyShapeRE().FindStringSubmatch(u.Path); m != nil {
		return "", "", fmt.Errorf("account SID %q in the Legacy SSO ACS URL is not a Twilio account SID (AC followed by 32 hex digits, 34 characters; this one has %d): copy the URL again from the Flex console",
			m[1], len(m[1]))
	}
	if strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/login/callback") {
		return "", "", fmt.Errorf("the Enhanced SSO ACS URL %q lacks its connection parameter (…/login/callback?connection=JQ…): copy the URL again from the Flex console", acs)
	}
	return "", Generic, fmt.Errorf("%q is neither an Enhanced SSO ACS URL (…/login/callback?connection=JQ…) nor a Legacy one (…/v1/Accounts/AC…/saml2); give the audience with --audience", acs)
}
