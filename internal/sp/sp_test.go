package sp

import (
	"strings"
	"testing"
	"time"
)

func TestFlexPreset(t *testing.T) {
	cases := []struct{ acs, entity, kind, err string }{
		{"https://login.flex.us1.twilio.com/login/callback?connection=JQ0123456789abcdef0123456789abcdef", "urn:flex:JQ0123456789abcdef0123456789abcdef", FlexEnhanced, ""},
		{"https://login.flex.ie1.twilio.com/login/callback/?connection=JQ0123456789ABCDEF0123456789ABCDEF", "urn:flex:JQ0123456789ABCDEF0123456789ABCDEF", FlexEnhanced, ""},
		{"https://iam.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/saml2", "https://iam.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/saml2/metadata", FlexLegacy, ""},
		{"https://login.flex.us1.twilio.com/login/callback?connection=JQ123", "", "", "not a Flex SSO connection ID"},
		{"https://iam.twilio.com/v2/saml2/authenticate/FO0123", "", Generic, "--audience"},
		{"not a url", "", "", "not an absolute URL"},
		// A short or mistyped account SID is named as such, not as an unknown URL.
		{"https://iam.twilio.com/v1/Accounts/AC0123456789abcdef/saml2", "", "", `account SID "AC0123456789abcdef" in the Legacy SSO ACS URL is not a Twilio account SID (AC followed by 32 hex digits, 34 characters; this one has 18)`},
		{"https://iam.twilio.com/v1/Accounts/XX0123456789abcdef0123456789abcdef/saml2", "", "", "is not a Twilio account SID"},
		{"https://login.flex.us1.twilio.com/login/callback", "", "", "lacks its connection parameter"},
	}
	for _, c := range cases {
		t.Run(c.acs, func(t *testing.T) {
			entity, kind, err := FlexPreset(c.acs)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || entity != c.entity || kind != c.kind {
				t.Fatalf("FlexPreset = %q, %q, %v; want %q, %q", entity, kind, err, c.entity, c.kind)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := func() ServiceProvider {
		return ServiceProvider{Name: "flex", EntityID: "urn:flex:JQ0123456789abcdef0123456789abcdef",
			ACSURLs: []string{"https://login.flex.us1.twilio.com/login/callback?connection=JQ0123456789abcdef0123456789abcdef"}}
	}
	if err := func() error { s := good(); return s.Validate() }(); err != nil {
		t.Fatalf("valid SP refused: %v", err)
	}
	cases := map[string]struct {
		edit  func(*ServiceProvider)
		field string
	}{
		"bad name":             {func(s *ServiceProvider) { s.Name = "Flex Prod" }, "name"},
		"long display name":    {func(s *ServiceProvider) { s.DisplayName = strings.Repeat("é", MaxDisplayName+1) }, "display_name"},
		"display name newline": {func(s *ServiceProvider) { s.DisplayName = "Acme\nSupport" }, "display_name"},
		"display name NUL":     {func(s *ServiceProvider) { s.DisplayName = "Acme\x00" }, "display_name"},
		"display name spaces":  {func(s *ServiceProvider) { s.DisplayName = " Acme" }, "display_name"},
		"display name bad UTF": {func(s *ServiceProvider) { s.DisplayName = "Acme \xff" }, "display_name"},
		"no entity ID":         {func(s *ServiceProvider) { s.EntityID = "" }, "entity_id"},
		"entity not a URI":     {func(s *ServiceProvider) { s.EntityID = "flex" }, "entity_id"},
		"no ACS":               {func(s *ServiceProvider) { s.ACSURLs = nil }, "acs_urls"},
		"http ACS":             {func(s *ServiceProvider) { s.ACSURLs = []string{"http://flex.example.com/acs"} }, "acs_urls"},
		"ACS with fragment":    {func(s *ServiceProvider) { s.ACSURLs = []string{"https://flex.example.com/acs#x"} }, "acs_urls"},
		"duplicate ACS":        {func(s *ServiceProvider) { s.ACSURLs = append(s.ACSURLs, s.ACSURLs[0]) }, "acs_urls"},
		"long redirect":        {func(s *ServiceProvider) { s.DefaultRedirectURL = "https://flex.twilio.com/" + strings.Repeat("x", 60) }, "default_redirect_url"},
		"short session":        {func(s *ServiceProvider) { s.SessionNotOnOrAfter = 59 * time.Minute }, "session_not_on_or_after"},
		"javascript redirect":  {func(s *ServiceProvider) { s.DefaultRedirectURL = "javascript:alert(1)" }, "default_redirect_url"},
		"signing cert not PEM": {func(s *ServiceProvider) { s.SigningCertificatePEM = "MIIB..." }, "signing_certificate"},
		"signing cert bad DER": {func(s *ServiceProvider) {
			s.SigningCertificatePEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}, "signing_certificate"},
		"signing cert is a key": {func(s *ServiceProvider) {
			s.SigningCertificatePEM = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, "signing_certificate"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := good()
			c.edit(&s)
			err := s.Validate()
			ve, ok := err.(*ValidationError)
			if !ok || ve.Field != c.field {
				t.Fatalf("Validate = %v, want a %s error", err, c.field)
			}
		})
	}
	s := good()
	s.ACSURLs = []string{"http://localhost:3000/acs", "http://127.0.0.1:3000/acs"}
	if err := s.Validate(); err != nil {
		t.Fatalf("http on loopback (plugin development) refused: %v", err)
	}
	for _, d := range []string{"Acme Support (Flex)", "<script>alert(1)</script> & Co", strings.Repeat("é", MaxDisplayName)} {
		s := good()
		s.DisplayName = d
		if err := s.Validate(); err != nil {
			t.Errorf("display name %q refused: %v", d, err)
		}
		if s.Label() != d {
			t.Errorf("Label() = %q, want the display name %q", s.Label(), d)
		}
	}
	if s := good(); s.Label() != "flex" {
		t.Errorf("Label() without a display name = %q, want the name", s.Label())
	}
}
