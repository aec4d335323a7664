package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// FlexSP builds the service provider of a Twilio Flex account from the ACS
// URL its console shows: Enhanced SSO (…/login/callback?connection=JQ…)
// gives the audience urn:flex:JQ…, Legacy SSO (…/v1/Accounts/AC…/saml2)
// gives …/saml2/metadata. A non-empty audience is used as given instead.
// kind is sp.FlexEnhanced or sp.FlexLegacy ("" with a given audience).
// The CLI's idp sp add-flex and the console's "Add Flex" both call it;
// CreateSP then validates the rest (https, the name).
func FlexSP(name, acs, audience string) (p sp.ServiceProvider, kind string, err error) {
	acs = strings.TrimSpace(acs)
	if acs == "" {
		return p, "", errorf(Invalid, "The ACS URL is required: copy it from the Flex console (Single sign-on settings).")
	}
	entityID := strings.TrimSpace(audience)
	if entityID == "" {
		if entityID, kind, err = sp.FlexPreset(acs); err != nil {
			return p, "", &Error{Code: Invalid, Err: err, Message: sentence(err.Error())}
		}
	}
	return sp.ServiceProvider{Name: name, EntityID: entityID, ACSURLs: []string{acs}}, kind, nil
}

// sentence starts msg with a capital letter and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// SPSettings are changes to a service provider's settings, given as text
// (the CLI's flags, the console's form): a nil field leaves its setting
// as it is. Apply is the one reading of that text.
type SPSettings struct {
	DisplayName, SLOURL, DefaultRedirectURL *string
	// Release and Withhold are comma-separated attribute patterns
	// ("department,channel.*").
	Release, Withhold *string
	// Static is semicolon-separated NAME=VALUE attributes sent for every
	// user ("location=London;channel.chat.capacity=2").
	Static *string
	// RolesFormat is single or multi; NameID is email or persistent.
	RolesFormat, NameID *string
	// DefaultRoles are comma-separated Flex roles for users without one.
	DefaultRoles *string
	// SessionNotOnOrAfter is sent added to the sign-in time; 0 omits it.
	SessionNotOnOrAfter *time.Duration
	// SigningCertificatePEM is the PEM certificates the SP signs its
	// requests with ("" clears them).
	SigningCertificatePEM *string
	AssignmentRequired    *bool
	// RequireSignedRequests, with a certificate registered, refuses
	// unsigned requests.
	RequireSignedRequests *bool
}

// Apply copies the given settings onto p. A value that cannot be read is
// an Invalid error naming it; CreateSP and UpdateSP validate the result.
func (o SPSettings) Apply(p *sp.ServiceProvider) error {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.DisplayName, o.DisplayName)
	set(&p.SLOURL, o.SLOURL)
	set(&p.DefaultRedirectURL, o.DefaultRedirectURL)
	set(&p.Policy.RolesFormat, o.RolesFormat)
	set(&p.Policy.NameID, o.NameID)
	if o.Release != nil {
		p.Policy.Release = SplitList(*o.Release, ",")
	}
	if o.Withhold != nil {
		p.Policy.Withhold = SplitList(*o.Withhold, ",")
	}
	if o.Static != nil {
		static := attributes.Set{}
		for _, kv := range SplitList(*o.Static, ";") {
			name, raw, ok := strings.Cut(kv, "=")
			if !ok {
				return errorf(Invalid, "Static attributes: %q is not NAME=VALUE.", kv)
			}
			name = strings.TrimSpace(name)
			v, err := attributes.Parse(name, raw)
			if err != nil {
				return invalid(err)
			}
			static[name] = v
		}
		p.Policy.Static = static
	}
	if o.DefaultRoles != nil {
		roles, err := attributes.ParseRoles(*o.DefaultRoles)
		if err != nil {
			return invalid(err)
		}
		p.Policy.DefaultRoles = roles
	}
	if o.SessionNotOnOrAfter != nil {
		p.SessionNotOnOrAfter = *o.SessionNotOnOrAfter
	}
	if o.SigningCertificatePEM != nil {
		p.SigningCertificatePEM = ""
		if strings.TrimSpace(*o.SigningCertificatePEM) != "" {
			p.SigningCertificatePEM = *o.SigningCertificatePEM
		}
	}
	if o.AssignmentRequired != nil {
		p.AssignmentRequired = *o.AssignmentRequired
	}
	if o.RequireSignedRequests != nil {
		p.AllowUnsignedRequests = !*o.RequireSignedRequests
	}
	return nil
}

// SplitList splits s at sep, trimming spaces and dropping empty parts.
func SplitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// PreviewDraft is PreviewRelease for settings not saved yet (the
// console's live preview of a release policy being edited): what draft
// would send about the user. The draft is validated first; nothing is
// stored or recorded.
func (s *Service) PreviewDraft(ctx context.Context, userRef string, draft sp.ServiceProvider) (Preview, error) {
	if err := draft.Validate(); err != nil {
		return Preview{}, invalid(err)
	}
	return s.previewFor(ctx, userRef, draft)
}

// SigningNote says what the SP's request-signing settings mean, for a
// person: none registered, unsigned accepted, or every request signed.
func SigningNote(p sp.ServiceProvider) string {
	switch {
	case len(p.SigningCertificates()) == 0:
		return "No signing certificate is registered: signatures on " + p.Name + "'s requests are not checked."
	case p.AllowUnsignedRequests:
		return "Warning: " + p.Name + " may send UNSIGNED AuthnRequests and LogoutRequests: anyone can start a sign-in or a logout in its name; only a signature that is present is checked."
	}
	return "Every AuthnRequest and LogoutRequest from " + p.Name + " must be signed with its registered certificate; unsigned ones are refused."
}

// MaxAssigneesShown is how many assigned users Assignees returns.
const MaxAssigneesShown = 500

// Assignees returns the users assigned to the service provider (at most
// MaxAssigneesShown, by ID), and whether there are more.
func (s *Service) Assignees(ctx context.Context, spName string) (list []users.User, more bool, err error) {
	if _, err := s.GetSP(ctx, spName); err != nil {
		return nil, false, err
	}
	ids, err := s.st.Assignees(ctx, spName, MaxAssigneesShown+1)
	if err != nil {
		return nil, false, err
	}
	if len(ids) > MaxAssigneesShown {
		ids, more = ids[:MaxAssigneesShown], true
	}
	for _, id := range ids {
		u, err := s.st.GetUser(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		} else if err != nil {
			return nil, false, err
		}
		list = append(list, u)
	}
	return list, more, nil
}
