package accounts

import (
	"encoding/pem"
	"net/url"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/sp"
)

// Endpoints are flexidp's SAML addresses under its external base URL.
type Endpoints struct {
	EntityID, SSO, SLO, Metadata, Certificate string
}

// EndpointsFor returns the SAML addresses under base.
func EndpointsFor(base *url.URL) Endpoints {
	b := strings.TrimSuffix(base.String(), "/")
	return Endpoints{
		EntityID:    b + "/saml/metadata",
		SSO:         b + "/saml/sso",
		SLO:         b + "/saml/slo",
		Metadata:    b + "/saml/metadata",
		Certificate: b + "/saml/certificate.pem",
	}
}

// Certificate is a signing certificate as an admin pastes it.
type Certificate struct {
	PEM     string
	Expires time.Time
}

// SetupValues are what an admin pastes into the Twilio Console (Flex >
// Manage > Single sign-on): the one source of `idp flex setup-values`,
// `idp dev` and the console's home page.
type SetupValues struct {
	Endpoints
	// Active signs Responses; Next are published in metadata and not yet
	// signing (pasted right after the key is activated).
	Active Certificate
	Next   []Certificate
	// SPs are the service providers and their IdP-initiated login URLs.
	SPs []SPSetup
}

// SPSetup is one service provider's part of the setup values.
type SPSetup struct {
	Name, Label, Audience string
	// IdPInitiated is flexidp's login URL for the SP (the launcher's).
	IdPInitiated string
	// DefaultRedirectURL is the SP's, "" when not set (IdP-initiated login
	// needs it).
	DefaultRedirectURL string
	// Flex is the kind of Flex SSO its ACS URL shows (sp.FlexEnhanced,
	// sp.FlexLegacy), "" for another SP.
	Flex string
}

// SetupValuesFor returns the setup values of flexidp at base, signing with
// ks, for the service providers sps.
func SetupValuesFor(base *url.URL, ks *saml.KeySet, sps []sp.ServiceProvider) SetupValues {
	v := SetupValues{Endpoints: EndpointsFor(base)}
	if ks != nil && ks.Certificate != nil {
		v.Active = certificateOf(ks.Certificate.Raw, ks.Certificate.NotAfter)
		for _, c := range ks.Published {
			v.Next = append(v.Next, certificateOf(c.Raw, c.NotAfter))
		}
	}
	b := strings.TrimSuffix(base.String(), "/")
	for _, p := range sps {
		v.SPs = append(v.SPs, SPSetup{Name: p.Name, Label: p.Label(), Audience: p.EntityID, IdPInitiated: b + "/sso/idp/" + p.Name,
			DefaultRedirectURL: p.DefaultRedirectURL, Flex: flexKind(p)})
	}
	return v
}

func certificateOf(der []byte, expires time.Time) Certificate {
	return Certificate{PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), Expires: expires.UTC()}
}

// flexKind is the kind of Flex SSO an ACS URL of p shows, or "".
func flexKind(p sp.ServiceProvider) string {
	for _, acs := range p.ACSURLs {
		if _, kind, err := sp.FlexPreset(acs); err == nil && kind != sp.Generic {
			return kind
		}
	}
	return ""
}
