package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// oidcUser is a person at the mock OpenID Provider; tamper changes the
// ID token the provider signs (a wrong audience, an expired token, a
// nonce of another sign-in).
type oidcUser struct {
	mockoidc.MockUser
	Name   string
	Roles  []string
	tamper func(*mockoidc.IDTokenClaims)
}

type oidcClaims struct {
	*mockoidc.IDTokenClaims
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name,omitempty"`
	Groups        []string `json:"groups,omitempty"`
	Roles         []string `json:"roles,omitempty"`
}

func (u *oidcUser) Claims(scope []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	if u.tamper != nil {
		u.tamper(base)
	}
	return &oidcClaims{IDTokenClaims: base, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, Groups: u.Groups, Roles: u.Roles}, nil
}

// startOP starts a real OpenID Provider (oauth2-proxy/mockoidc) and
// registers it as the source "google" of acme.test.
func startOP(t *testing.T, h *testIdP) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	cfg := m.Config()
	if _, err := h.Accounts.AddDirectory(context.Background(), admin, accounts.Source{Name: "google", Kind: accounts.KindOIDC,
		Domains: []string{"acme.test"}, Password: cfg.ClientSecret,
		OIDC: accounts.OIDCSettings{Issuer: cfg.Issuer, ClientID: cfg.ClientID, Scopes: []string{"openid", "email", "profile", "groups"},
			Groups: map[string]string{"floor": "agents", "role:Supervisor": "supervisors"}}}); err != nil {
		t.Fatal(err)
	}
	return m
}

// continueWith presses "Continue with google" on the login page body and
// follows the provider back to flexidp.
func continueWith(t *testing.T, b *samltest.Browser, base, body string) (int, string) {
	t.Helper()
	samltest.MustContain(t, body, "Continue with google")
	f := samltest.HiddenFields(body)
	return b.Post(base+"/login/oidc", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "source": {"google"}})
}

// TestOIDCSignInEndToEnd: an agent signs in to Flex with their provider
// account (SP-initiated through email-first routing, and IdP-initiated
// through "Continue with"); the user is created at the first sign-in,
// kept in step, audited as the source; their groups claim and app role
// make them members of the mapped flexidp groups, whose roles, team and
// skills the Response carries, checked by crewjam's SP and xmlsec1.
func TestOIDCSignInEndToEnd(t *testing.T) {
	ctx := context.Background()
	h := newTestIdP(t, idpOptions{})
	skills, err := attributes.SetOf("skills.stringarray", "billing,vip")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []users.Group{{Name: "agents", Roles: []string{"agent"}, Team: "Floor", Attributes: skills},
		{Name: "supervisors", Roles: []string{"supervisor"}}} {
		if _, err := h.Accounts.CreateGroup(ctx, admin, g); err != nil {
			t.Fatal(err)
		}
	}
	m := startOP(t, h)
	alice := &oidcUser{MockUser: mockoidc.MockUser{Subject: "alice-sub", Email: "alice@acme.test", EmailVerified: true,
		Groups: []string{"floor", "unmapped"}}, Name: "Alice Agent", Roles: []string{"Supervisor"}}

	// First sign-in: the account appears. The login page lets a browser
	// follow its forms' redirect to the provider (CSP form-action).
	m.QueueUser(alice)
	b := samltest.NewBrowser(t)
	resp, err := b.C.Get(h.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	issuer, _ := url.Parse(m.Issuer())
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://"+issuer.Host+";") {
		t.Errorf("the login page's CSP does not let its forms go to the provider: %s", csp)
	}
	_, page := b.Get(h.URL + "/login")
	status, body := continueWith(t, b, h.URL, page)
	samltest.WantStatus(t, "first sign-in through the provider", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Your applications")
	u := h.user(t, "alice@acme.test")
	if u.FullName != "Alice Agent" {
		t.Errorf("full name %q, want the provider's", u.FullName)
	}

	// SP-initiated, email first: the domain goes to the provider. Flex
	// receives the roles, team and skills of the groups her groups claim
	// and app role map to.
	sp := samltest.FlexSP(t, h.URL)
	alice.Name = "Alice Renamed"
	m.QueueUser(alice)
	b = samltest.NewBrowser(t)
	page, reqID := b.StartSignIn(sp)
	f := samltest.HiddenFields(page)
	status, body = b.Post(h.URL+"/login", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "step": {"email"}, "email": {"alice@acme.test"}})
	samltest.WantStatus(t, "email-first to the provider", status, http.StatusOK, body)
	form := samltest.Form(t, body)
	attrs := samltest.Values(samltest.Accepts(t, sp, form, reqID))
	for k, v := range map[string]string{"email": "alice@acme.test", "full_name": "Alice Renamed", "roles": "agent,supervisor", "team": "Floor",
		"skills.stringarray": "billing,vip"} {
		if strings.Join(attrs[k], "|") != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
		}
	}
	samltest.VerifyWithXmlsec(t, form.XML, h.certificate(t))

	// IdP-initiated: the login page's "Continue with", then Flex.
	sp.AllowIDPInitiated = true
	m.QueueUser(alice)
	b = samltest.NewBrowser(t)
	_, page = b.Get(h.URL + "/sso/idp/flex")
	status, body = continueWith(t, b, h.URL, page)
	samltest.WantStatus(t, "IdP-initiated through the provider", status, http.StatusOK, body)
	samltest.Accepts(t, sp, samltest.Form(t, body))

	var byDir []string
	for _, e := range h.auditEvents(t, "alice@acme.test") {
		if e.Actor == "directory:google" {
			byDir = append(byDir, e.Action)
			if e.Action == "admin.user.directory-groups" && !strings.Contains(string(e.Details), `"groups":["agents","supervisors"]`) {
				t.Errorf("groups mapped: %s, want agents (groups claim) and supervisors (app role)", e.Details)
			}
		}
	}
	if strings.Join(byDir, ",") != "admin.user.directory-groups,admin.user.directory-groups,admin.user.update,admin.group.member-add,"+
		"admin.group.member-add,admin.user.directory-groups,admin.user.add" {
		t.Errorf("the source's changes in the audit trail: %v", byDir)
	}
	signins := h.audit(t, store.AuditFilter{User: "alice@acme.test", Action: accounts.AuditSignIn})
	if len(signins) != 3 {
		t.Errorf("sign-ins recorded: %v", signins)
	}
}

func (h *testIdP) auditEvents(t *testing.T, user string) []store.AuditEvent {
	t.Helper()
	evs, err := h.Store.ListAudit(context.Background(), store.AuditFilter{User: user, Action: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestOIDCSignInRefused: each answer that must not sign anyone in is a
// clear page, and creates nobody.
func TestOIDCSignInRefused(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	m := startOP(t, h)
	person := func(email string, verified bool, tamper func(*mockoidc.IDTokenClaims)) *oidcUser {
		return &oidcUser{MockUser: mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: verified}, tamper: tamper}
	}
	for _, tc := range []struct {
		name string
		user *oidcUser
		want string
	}{
		{"wrong audience", person("aud@acme.test", true, func(c *mockoidc.IDTokenClaims) { c.Audience = jwt.ClaimStrings{"another-app"} }),
			"issued to another application"},
		{"expired token", person("old@acme.test", true, func(c *mockoidc.IDTokenClaims) {
			c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-2*time.Hour)), jwt.NewNumericDate(time.Now().Add(-time.Hour))
		}), "has expired"},
		{"bad nonce", person("nonce@acme.test", true, func(c *mockoidc.IDTokenClaims) { c.Nonce = "another-sign-in" }),
			"belongs to another sign-in"},
		{"unverified email", person("unverified@acme.test", false, nil), "has not verified the email"},
		{"domain not allowed", person("mallory@evil.test", true, nil), "not in a domain this source signs in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m.QueueUser(tc.user)
			b := samltest.NewBrowser(t)
			_, page := b.Get(h.URL + "/login")
			status, body := continueWith(t, b, h.URL, page)
			samltest.WantStatus(t, tc.name, status, http.StatusUnauthorized, body)
			samltest.MustContain(t, body, "Signing in with google did not work", tc.want)
			if _, err := h.Store.GetUserByEmail(context.Background(), tc.user.Email); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a user was created: %v", err)
			}
		})
	}

	t.Run("state mismatch", func(t *testing.T) {
		m.QueueUser(person("state@acme.test", true, nil))
		b := samltest.NewBrowser(t)
		b.C.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if strings.Contains(req.URL.Path, "/login/oidc/callback") {
				return http.ErrUseLastResponse
			}
			return nil
		}
		_, page := b.Get(h.URL + "/login")
		f := samltest.HiddenFields(page)
		req, _ := http.NewRequest(http.MethodPost, h.URL+"/login/oidc", strings.NewReader(url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "source": {"google"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := b.C.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		callback, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || callback.Query().Get("code") == "" {
			t.Fatalf("the provider sent back %q", resp.Header.Get("Location"))
		}
		// Another browser brings the code back: its state is not bound to it.
		other := samltest.NewBrowser(t)
		_, _ = other.Get(h.URL + "/login")
		status, body := other.Get(callback.String())
		samltest.WantStatus(t, "another browser", status, http.StatusBadRequest, body)
		samltest.MustContain(t, body, "did not start in this browser")
		// The same browser with an altered state parameter.
		q := callback.Query()
		q.Set("state", "forged")
		callback.RawQuery = q.Encode()
		status, body = b.Get(callback.String())
		samltest.WantStatus(t, "altered state", status, http.StatusBadRequest, body)
		samltest.MustContain(t, body, "did not start in this browser")
		if _, err := h.Store.GetUserByEmail(context.Background(), "state@acme.test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a user was created: %v", err)
		}
	})
}
