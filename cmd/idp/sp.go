package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/sp"
)

func spCommands() map[string]command {
	return map[string]command{
		"add-flex": {summary: "register a Flex account from its ACS URL (Enhanced or Legacy SSO)", run: runSPAddFlex},
		"add":      {summary: "register any SAML service provider (entity ID + ACS URLs)", run: runSPAdd},
		"list":     {summary: "list service providers", run: runSPList},
		"show":     {summary: "show a service provider and its release policy", run: runSPShow},
		"set":      {summary: "change a service provider's settings and release policy", run: runSPSet},
		"remove":   {summary: "remove a service provider", run: runSPRemove},
		"assign":   {summary: "let a user enter a service provider", run: runSPAssign},
		"unassign": {summary: "remove a user's assignment", run: runSPUnassign},
	}
}

// spSettings are the flags shared by add, add-flex and set.
type spSettings struct {
	sloURL, displayName                                                           string
	defaultRedirect, release, withhold, static, rolesFormat, nameID, defaultRoles string
	signingCert                                                                   string
	sessionNotOnOrAfter                                                           time.Duration
	assignmentRequired, requireSigned                                             bool
}

func (o *spSettings) register(fs *flag.FlagSet) {
	fs.StringVar(&o.displayName, "display-name", "", "the name people read on the sign-in page, the launcher and errors, e.g. 'Acme Support (Flex)' (≤ 100 characters; empty: the name)")
	fs.StringVar(&o.sloURL, "slo-url", "", "the SP's SingleLogoutService URL, where LogoutResponses go (empty: no single logout)")
	fs.StringVar(&o.defaultRedirect, "default-redirect-url", "", "Flex Default Redirect URL, sent as RelayState on IdP-initiated login (≤ 80 bytes)")
	fs.StringVar(&o.release, "release", "", "comma-separated patterns of optional attributes released (default: all), e.g. 'department,channel.*'")
	fs.StringVar(&o.withhold, "withhold", "", "comma-separated patterns never released, e.g. 'team,program' (Pattern B)")
	fs.StringVar(&o.static, "static", "", "semicolon-separated NAME=VALUE attributes sent for every user, e.g. 'location=London;channel.chat.capacity=2'")
	fs.StringVar(&o.rolesFormat, "roles-format", "", "single (one comma-separated value, default) or multi (one value per role)")
	fs.StringVar(&o.nameID, "name-id", "", "email (default) or persistent (the immutable user ID)")
	fs.StringVar(&o.defaultRoles, "default-roles", "", "roles given to users without one (default: none; such users are refused)")
	fs.DurationVar(&o.sessionNotOnOrAfter, "session-not-on-or-after", 0, "send SessionNotOnOrAfter = sign-in + this (≥ 1h; default: not sent, as Flex recommends)")
	fs.StringVar(&o.signingCert, "signing-cert", "", "PEM file of the certificate(s) the SP signs AuthnRequests/LogoutRequests with; signed requests must then verify ('' to clear)")
	fs.BoolVar(&o.assignmentRequired, "assignment-required", false, "only users assigned to this SP may enter it")
	fs.BoolVar(&o.requireSigned, "require-signed-requests", true, "with --signing-cert registered, refuse unsigned AuthnRequests/LogoutRequests (default); =false accepts unsigned ones and checks only signatures that are present")
}

// apply copies the set flags onto s, read by the service's one reading
// of SP settings (accounts.SPSettings); --signing-cert names a file.
func (o *spSettings) apply(s *sp.ServiceProvider, set map[string]bool) error {
	var c accounts.SPSettings
	str := map[string]struct {
		dst **string
		v   *string
	}{
		"display-name": {&c.DisplayName, &o.displayName}, "slo-url": {&c.SLOURL, &o.sloURL},
		"default-redirect-url": {&c.DefaultRedirectURL, &o.defaultRedirect}, "release": {&c.Release, &o.release},
		"withhold": {&c.Withhold, &o.withhold}, "static": {&c.Static, &o.static}, "roles-format": {&c.RolesFormat, &o.rolesFormat},
		"name-id": {&c.NameID, &o.nameID}, "default-roles": {&c.DefaultRoles, &o.defaultRoles},
	}
	for flag, f := range str {
		if set[flag] {
			*f.dst = f.v
		}
	}
	if set["session-not-on-or-after"] {
		c.SessionNotOnOrAfter = &o.sessionNotOnOrAfter
	}
	if set["signing-cert"] {
		pem := ""
		if o.signingCert != "" {
			b, err := os.ReadFile(o.signingCert)
			if err != nil {
				return fmt.Errorf("--signing-cert: %w", err)
			}
			pem = string(b)
		}
		c.SigningCertificatePEM = &pem
	}
	if set["assignment-required"] {
		c.AssignmentRequired = &o.assignmentRequired
	}
	if set["require-signed-requests"] {
		c.RequireSignedRequests = &o.requireSigned
	}
	return c.Apply(s)
}

// signedRequestsNote says what the SP's request-signing settings mean,
// after a change that touched them.
func signedRequestsNote(s sp.ServiceProvider, set map[string]bool) string {
	if !set["signing-cert"] && !set["require-signed-requests"] {
		return ""
	}
	switch {
	case len(s.SigningCertificates()) == 0:
		return "no signing certificate registered: signatures on " + s.Name + "'s requests are not checked (--signing-cert FILE to require them)"
	case s.AllowUnsignedRequests:
		return "warning: " + s.Name + " may now send UNSIGNED AuthnRequests and LogoutRequests: anyone can start a sign-in or a logout in its name; only a signature that is present is checked (--require-signed-requests to require them again)"
	}
	return "every AuthnRequest and LogoutRequest from " + s.Name + " must now be signed with its registered certificate; unsigned ones are refused"
}

func runSPAddFlex(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp sp add-flex", "--acs URL [flags]", `Register a Twilio Flex account. From an Enhanced SSO ACS URL
(https://login.flex.us1.twilio.com/login/callback?connection=JQ…) the audience is urn:flex:JQ…;
from a Legacy one (https://iam.twilio.com/v1/Accounts/AC…/saml2) it is …/saml2/metadata.
--audience overrides the derived value.`)
	dbURL := databaseFlag(env, fs)
	acs := fs.String("acs", envOr(env, "IDP_FLEX_ACS", ""), "the ACS (callback) URL shown in the Flex console; required (IDP_FLEX_ACS)")
	audience := fs.String("audience", "", "SP entity ID, when it cannot be derived from the ACS URL")
	name := fs.String("name", "flex", "short name of this SP, used in URLs and commands")
	var o spSettings
	o.register(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	s, err := flexSP(*name, *acs, *audience)
	if err != nil {
		return err
	}
	if err := o.apply(&s, visited(fs)); err != nil {
		return err
	}
	return createSP(ctx, env, *dbURL, s)
}

// flexSP builds a Flex SP from its ACS URL (accounts.FlexSP), deriving
// the audience unless one is given.
func flexSP(name, acs, audience string) (sp.ServiceProvider, error) {
	if acs == "" {
		return sp.ServiceProvider{}, usageError{"--acs is required: copy the ACS URL from the Flex console (Single Sign-On settings)"}
	}
	s, _, err := accounts.FlexSP(name, acs, audience)
	return s, err
}

func runSPAdd(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp sp add", "--name NAME --entity-id ID --acs URL [--acs URL…] [flags]", "Register any SAML 2.0 service provider by hand.")
	dbURL := databaseFlag(env, fs)
	name := fs.String("name", "", "short name, used in URLs and commands; required")
	entityID := fs.String("entity-id", "", "the SP's entity ID (the Audience); required")
	var acs multiFlag
	fs.Var(&acs, "acs", "an ACS URL (HTTP-POST); repeat for several, the first is the default")
	var o spSettings
	o.register(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	s := sp.ServiceProvider{Name: *name, EntityID: *entityID, ACSURLs: acs}
	if err := o.apply(&s, visited(fs)); err != nil {
		return err
	}
	return createSP(ctx, env, *dbURL, s)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func createSP(ctx context.Context, env *environment, dbURL string, s sp.ServiceProvider) error {
	return withService(ctx, env, dbURL, func(svc *accounts.Service) error {
		s, err := svc.CreateSP(ctx, env.admin(), s)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "added service provider %s\n  entity ID (audience): %s\n  ACS URL: %s\n", s.Name, s.EntityID, strings.Join(s.ACSURLs, ", "))
		return nil
	})
}

func runSPList(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp sp list", "[flags]", "List service providers.")
	dbURL := databaseFlag(env, fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	return withService(ctx, env, *dbURL, func(svc *accounts.Service) error {
		list, err := svc.ListSPs(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tENTITY ID\tACS URL")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, s.EntityID, strings.Join(s.ACSURLs, ", "))
		}
		return tw.Flush()
	})
}

// spCommand parses the flags of a command acting on one SP by name.
func spCommand(env *environment, name, usage, desc string, args []string, extra func(*flag.FlagSet)) (*flag.FlagSet, string, string, error) {
	fs := newFlags(env, name, usage, desc)
	dbURL := databaseFlag(env, fs)
	spName := fs.String("sp", "", "the service provider's name; required")
	if extra != nil {
		extra(fs)
	}
	if err := parse(fs, args, 0); err != nil {
		return nil, "", "", err
	}
	if *spName == "" {
		fs.Usage()
		return nil, "", "", usageError{name + ": --sp is required"}
	}
	return fs, *dbURL, *spName, nil
}

func runSPShow(ctx context.Context, env *environment, args []string) error {
	return onSP(ctx, env, "idp sp show", "--sp NAME", "Show a service provider.", args, nil, func(svc *accounts.Service, _ *flag.FlagSet, name string) error {
		s, err := svc.GetSP(ctx, name)
		if err != nil {
			return err
		}
		return printSP(env, s)
	})
}

// printSP writes the settings and release policy of s.
func printSP(env *environment, s sp.ServiceProvider) error {
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("name", s.Name)
	row("display_name", orDefault(s.DisplayName, "none (the name is shown)"))
	row("entity_id", s.EntityID)
	row("acs_urls", strings.Join(s.ACSURLs, ", "))
	row("default_redirect_url", s.DefaultRedirectURL)
	row("slo_url", orDefault(s.SLOURL, "none (no single logout)"))
	row("assignment_required", fmt.Sprint(s.AssignmentRequired))
	row("signing_certificates", signingCertsSummary(s))
	if s.SessionNotOnOrAfter > 0 {
		row("session_not_on_or_after", s.SessionNotOnOrAfter.String())
	} else {
		row("session_not_on_or_after", "not sent")
	}
	row("release", orAll(strings.Join(s.Policy.Release, ",")))
	row("withhold", strings.Join(s.Policy.Withhold, ","))
	row("roles_format", orDefault(s.Policy.RolesFormat, "single"))
	row("name_id", orDefault(s.Policy.NameID, "email"))
	row("default_roles", strings.Join(s.Policy.DefaultRoles, ","))
	for _, n := range s.Policy.Static.Names() {
		row("static "+n, s.Policy.Static[n].String())
	}
	return tw.Flush()
}

func orAll(s string) string { return orDefault(s, "all") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func runSPSet(ctx context.Context, env *environment, args []string) error {
	var o spSettings
	var acs multiFlag
	var entityID string
	return onSP(ctx, env, "idp sp set", "--sp NAME [flags]", "Change settings; only the flags given are changed.", args, func(fs *flag.FlagSet) {
		o.register(fs)
		fs.Var(&acs, "acs", "replace the ACS URLs (repeat for several)")
		fs.StringVar(&entityID, "entity-id", "", "change the entity ID")
	}, func(svc *accounts.Service, fs *flag.FlagSet, name string) error {
		set := visited(fs)
		after, err := svc.UpdateSP(ctx, env.admin(), name, func(s *sp.ServiceProvider) error {
			if set["acs"] {
				s.ACSURLs = acs
			}
			if set["entity-id"] {
				s.EntityID = entityID
			}
			return o.apply(s, set)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "updated service provider %s\n", name)
		if note := signedRequestsNote(after, set); note != "" {
			fmt.Fprintln(env.stdout, note)
		}
		return nil
	})
}

func runSPRemove(ctx context.Context, env *environment, args []string) error {
	return onSP(ctx, env, "idp sp remove", "--sp NAME", "Remove a service provider and its assignments.", args, nil, func(svc *accounts.Service, _ *flag.FlagSet, name string) error {
		if err := svc.RemoveSP(ctx, env.admin(), name); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "removed service provider %s\n", name)
		return nil
	})
}

func runSPAssign(ctx context.Context, env *environment, args []string) error {
	return assignment(ctx, env, args, true)
}

func runSPUnassign(ctx context.Context, env *environment, args []string) error {
	return assignment(ctx, env, args, false)
}

func assignment(ctx context.Context, env *environment, args []string, assign bool) error {
	verb := "assign"
	if !assign {
		verb = "unassign"
	}
	var email string
	return onSP(ctx, env, "idp sp "+verb, "--sp NAME --email EMAIL", verb+" a user and a service provider.", args, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the user's email or ID; required")
	}, func(svc *accounts.Service, _ *flag.FlagSet, name string) error {
		if email == "" {
			return usageError{"idp sp " + verb + ": --email is required"}
		}
		u, err := svc.FindUser(ctx, email)
		if err != nil {
			return err
		}
		if err := svc.Assign(ctx, env.admin(), u.ID, name, assign); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%sed %s and %s\n", verb, u.Email, name)
		return nil
	})
}

// signingCertsSummary describes the SP's request-signing certificates.
func signingCertsSummary(s sp.ServiceProvider) string {
	ders := s.SigningCertificates()
	if len(ders) == 0 {
		return "none (signatures on its requests are not checked)"
	}
	var parts []string
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (expires %s)", c.Subject.CommonName, c.NotAfter.UTC().Format("2006-01-02")))
	}
	if s.AllowUnsignedRequests {
		return strings.Join(parts, "; ") + "; unsigned requests accepted (--require-signed-requests=false)"
	}
	return strings.Join(parts, "; ") + "; every request must be signed with one"
}
