package server_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/users"
)

const testMetricsToken = "metrics-token-for-tests-0123456789"

// TestSignInEndToEnd drives the SP-initiated flow the way Flex does, with
// crewjam's SP code playing Flex, and checks the Response as strict SPs
// would: crewjam's parser, xmlsec1 for both signatures, and python3-saml.
func TestSignInEndToEnd(t *testing.T) {
	h := newTestIdP(t, idpOptions{MetricsToken: testMetricsToken})
	base := h.URL
	sp := samltest.FlexSP(t, base)
	certPEM := h.certificate(t)

	b := samltest.NewBrowser(t)
	redirect, reqID := samltest.AuthnRedirect(t, sp, "flex-relay-42", nil)
	status, body := b.Get(redirect)
	samltest.WantStatus(t, "SSO GET", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Sign in", "flex")

	status, body = b.Login(base, body, "sam.supervisor@example.com", password)
	samltest.WantStatus(t, "login", status, http.StatusOK, body)
	form := samltest.Form(t, body)
	if form.Action != samltest.FlexACS {
		t.Fatalf("form posts to %q, want the registered ACS %q", form.Action, samltest.FlexACS)
	}
	if form.RelayState != "flex-relay-42" {
		t.Fatalf("RelayState = %q, want it echoed", form.RelayState)
	}
	assertion := samltest.Accepts(t, sp, form, reqID)
	if got := assertion.Subject.NameID.Value; got != "Sam.Supervisor@Example.com" {
		t.Errorf("NameID = %q", got)
	}
	if got := assertion.Subject.NameID.Format; got != "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" {
		t.Errorf("NameID Format = %q", got)
	}
	attrs := samltest.Values(assertion)
	want := map[string][]string{
		"email": {"Sam.Supervisor@Example.com"}, "full_name": {"Sam Supervisor"},
		"roles": {"supervisor,agent"}, "team": {"Sales"}, "program": {"Retail"},
	}
	for k, v := range want {
		if strings.Join(attrs[k], "|") != strings.Join(v, "|") {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
		}
	}
	if len(attrs) != len(want) {
		t.Errorf("released %d attributes %v, want exactly %v (no image_url when empty)", len(attrs), attrs, want)
	}
	checkResponseShape(t, form.XML, reqID, base)
	samltest.VerifyWithXmlsec(t, form.XML, certPEM)
	ol := samltest.VerifyWithOneLogin(t, form.XML, certPEM, base+"/saml/metadata", samltest.FlexACS, reqID)
	if ol.NameID != "Sam.Supervisor@Example.com" || strings.Join(ol.Attributes["roles"], ",") != "supervisor,agent" {
		t.Errorf("python3-saml read NameID %q, roles %q", ol.NameID, ol.Attributes["roles"])
	}

	// A second SSO within the session does not prompt.
	redirect2, reqID2 := samltest.AuthnRedirect(t, sp, "", nil)
	status, body = b.Get(redirect2)
	samltest.WantStatus(t, "second SSO", status, http.StatusOK, body)
	samltest.Accepts(t, sp, samltest.Form(t, body), reqID2)
	if strings.Contains(body, `name="RelayState"`) {
		t.Error("an empty RelayState must not be posted")
	}

	// The same request is never answered twice.
	status, body = b.Get(redirect2)
	samltest.WantStatus(t, "replayed AuthnRequest", status, http.StatusConflict, body)
	samltest.MustContain(t, body, "already been answered")
	if strings.Contains(body, "SAMLResponse") {
		t.Fatal("a replayed request got a Response")
	}

	// The metrics saw one password sign-in and two Responses to flex.
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testMetricsToken)
	status, metrics := samltest.NewBrowser(t).Do(req)
	samltest.WantStatus(t, "metrics", status, http.StatusOK, metrics)
	for _, m := range []string{`flexidp_signins_total{result="success"} 1`, `flexidp_saml_responses_total{sp="flex",status="success"} 2`,
		`flexidp_password_hash_queue_depth 0`,
		`flexidp_http_request_duration_seconds_count{code="200",method="POST",route="/login"} 1`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %s", m)
		}
	}

	// Logout ends the session: the next SSO prompts again.
	_, launcher := b.Get(base + "/launcher")
	status, body = b.Post(base+"/logout", url.Values{"csrf": {samltest.HiddenFields(launcher)["csrf"]}})
	samltest.WantStatus(t, "logout", status, http.StatusOK, body)
	redirect3, _ := samltest.AuthnRedirect(t, sp, "", nil)
	_, body = b.Get(redirect3)
	samltest.MustContain(t, body, `name="password"`)
}

// checkResponseShape checks what crewjam's parser does not insist on:
// element order, algorithms, and what must not be there.
func checkResponseShape(t *testing.T, doc []byte, reqID, base string) {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		t.Fatal(err)
	}
	resp := d.Root()
	if resp.Tag != "Response" || resp.SelectAttrValue("Destination", "") != samltest.FlexACS || resp.SelectAttrValue("InResponseTo", "") != reqID {
		t.Fatalf("Response attributes wrong: %v", resp.Attr)
	}
	kids := resp.ChildElements()
	if len(kids) != 4 || kids[0].Tag != "Issuer" || kids[1].Tag != "Signature" || kids[2].Tag != "Status" || kids[3].Tag != "Assertion" {
		tags := []string{}
		for _, k := range kids {
			tags = append(tags, k.Tag)
		}
		t.Fatalf("Response children = %v, want Issuer, Signature, Status, Assertion", tags)
	}
	if kids[0].Text() != base+"/saml/metadata" {
		t.Errorf("Issuer = %q", kids[0].Text())
	}
	a := kids[3]
	ak := a.ChildElements()
	if len(ak) < 5 || ak[0].Tag != "Issuer" || ak[1].Tag != "Signature" || ak[2].Tag != "Subject" || ak[3].Tag != "Conditions" || ak[4].Tag != "AuthnStatement" {
		t.Fatalf("Assertion children out of schema order")
	}
	for _, sig := range []*etree.Element{kids[1], ak[1]} {
		if m := sig.FindElement(".//SignatureMethod"); m.SelectAttrValue("Algorithm", "") != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" {
			t.Errorf("SignatureMethod = %q", m.SelectAttrValue("Algorithm", ""))
		}
		if c := sig.FindElement(".//CanonicalizationMethod"); c.SelectAttrValue("Algorithm", "") != "http://www.w3.org/2001/10/xml-exc-c14n#" {
			t.Errorf("CanonicalizationMethod = %q", c.SelectAttrValue("Algorithm", ""))
		}
		if dm := sig.FindElement(".//DigestMethod"); dm.SelectAttrValue("Algorithm", "") != "http://www.w3.org/2001/04/xmlenc#sha256" {
			t.Errorf("DigestMethod = %q", dm.SelectAttrValue("Algorithm", ""))
		}
	}
	if d.FindElement("//EncryptedAssertion") != nil {
		t.Error("assertion must never be encrypted")
	}
	scd := a.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData")
	if scd.SelectAttrValue("Recipient", "") != samltest.FlexACS || scd.SelectAttrValue("InResponseTo", "") != reqID ||
		scd.SelectAttr("NotBefore") != nil || scd.SelectAttr("Address") != nil {
		t.Errorf("SubjectConfirmationData = %v", scd.Attr)
	}
	if got := a.FindElement("./Conditions/AudienceRestriction/Audience").Text(); got != samltest.FlexAudience {
		t.Errorf("Audience = %q", got)
	}
	as := a.FindElement("./AuthnStatement")
	if as.SelectAttr("SessionNotOnOrAfter") != nil {
		t.Error("SessionNotOnOrAfter must not be sent unless the SP sets it")
	}
	if as.SelectAttrValue("SessionIndex", "") == "" {
		t.Error("AuthnStatement lacks a SessionIndex")
	}
	for _, at := range a.FindElements(".//Attribute") {
		if at.SelectAttrValue("NameFormat", "") != "urn:oasis:names:tc:SAML:2.0:attrname-format:basic" {
			t.Errorf("attribute %s NameFormat = %q", at.SelectAttrValue("Name", ""), at.SelectAttrValue("NameFormat", ""))
		}
	}
	nb, _ := time.Parse(time.RFC3339, a.FindElement("./Conditions").SelectAttrValue("NotBefore", ""))
	na, _ := time.Parse(time.RFC3339, a.FindElement("./Conditions").SelectAttrValue("NotOnOrAfter", ""))
	if now := time.Now(); !nb.Before(now) || !na.After(now) || na.Sub(nb) > 10*time.Minute {
		t.Errorf("Conditions window %s..%s is not a short window around now", nb, na)
	}
}

// TestIdPInitiatedAndLauncher: IdP-initiated sign-in asks for the password
// and posts a Response with the Default Redirect URL as RelayState; the
// launcher's button posts one too, with its CSRF token only.
func TestIdPInitiatedAndLauncher(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	sp := samltest.FlexSP(t, base)
	sp.AllowIDPInitiated = true

	b := samltest.NewBrowser(t)
	// Without a session the IdP-initiated URL asks for the password, then posts.
	status, body := b.Get(base + "/sso/idp/flex")
	samltest.WantStatus(t, "IdP-initiated", status, http.StatusOK, body)
	status, body = b.Login(base, body, "agent@example.com", password)
	samltest.WantStatus(t, "login", status, http.StatusOK, body)
	form := samltest.Form(t, body)
	if form.RelayState != defaultRedirect {
		t.Fatalf("RelayState = %q, want the Default Redirect URL", form.RelayState)
	}
	assertion := samltest.Accepts(t, sp, form)
	attrs := samltest.Values(assertion)
	if got := attrs["full_name"]; len(got) != 1 || got[0] != "Alex Agent" {
		t.Errorf("full_name = %q, want given+family name", got)
	}
	if got := attrs["image_url"]; len(got) != 1 || got[0] != "https://example.com/alex.png" {
		t.Errorf("image_url = %q", got)
	}
	d := etree.NewDocument()
	_ = d.ReadFromBytes(form.XML)
	if d.Root().SelectAttr("InResponseTo") != nil || d.FindElement("//SubjectConfirmationData").SelectAttr("InResponseTo") != nil {
		t.Error("an unsolicited Response must not carry InResponseTo")
	}
	samltest.VerifyWithXmlsec(t, form.XML, h.certificate(t))
	samltest.VerifyWithOneLogin(t, form.XML, h.certificate(t), base+"/saml/metadata", samltest.FlexACS, "")

	// The launcher lists the SP and its button posts (with CSRF) a Response.
	status, body = b.Get(base + "/launcher")
	samltest.WantStatus(t, "launcher", status, http.StatusOK, body)
	samltest.MustContain(t, body, "agent@example.com", `action="/sso/idp/flex"`)
	status, body = b.Post(base+"/sso/idp/flex", url.Values{"csrf": {samltest.HiddenFields(body)["csrf"]}})
	samltest.WantStatus(t, "launch", status, http.StatusOK, body)
	samltest.Form(t, body)
	// Without the CSRF token the launch is refused.
	status, body = b.Post(base+"/sso/idp/flex", url.Values{"csrf": {"forged"}})
	samltest.WantStatus(t, "launch without CSRF token", status, http.StatusForbidden, body)
}

// TestBadInputClearAnswers sends each kind of bad input and expects a 4xx
// page a person understands, no Response, and nothing written.
func TestBadInputClearAnswers(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	sp := samltest.FlexSP(t, base)

	expired, _ := samltest.AuthnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) { r.IssueInstant = time.Now().Add(-10 * time.Minute) })
	unknownSP, _ := samltest.AuthnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) { r.Issuer.Value = "urn:flex:JQffffffffffffffffffffffffffffffff" })
	evilACS, _ := samltest.AuthnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) { r.AssertionConsumerServiceURL = "https://evil.example.com/acs" })
	cases := []struct {
		name, url string
		status    int
		says      string
	}{
		{"no SAMLRequest", base + "/saml/sso", 400, "no SAMLRequest"},
		{"bad base64", base + "/saml/sso?SAMLRequest=" + url.QueryEscape("!!not base64!!"), 400, "base64"},
		{"bad deflate", base + "/saml/sso?SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("plainly not deflate"))), 400, "DEFLATE"},
		{"bad XML", base + "/saml/sso?SAMLRequest=" + url.QueryEscape(samltest.DeflateB64("<samlp:AuthnRequest <<")), 400, "XML"},
		{"expired", expired, 400, "expired"},
		{"unknown SP", unknownSP, 400, "does not know"},
		{"unregistered ACS", evilACS, 400, "not registered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := samltest.NewBrowser(t).Get(c.url)
			samltest.WantStatus(t, c.name, status, c.status, body)
			samltest.MustContain(t, body, c.says)
			if strings.Contains(body, "SAMLResponse") || strings.Contains(body, "evil.example.com") {
				t.Fatalf("bad request produced a Response or echoed the ACS:\n%s", body)
			}
			if strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") {
				t.Fatalf("stack trace shown:\n%s", body)
			}
		})
	}

	t.Run("wrong password and unknown email look the same", func(t *testing.T) {
		b := samltest.NewBrowser(t)
		page, _ := b.StartSignIn(sp)
		s1, wrong := b.Login(base, page, "agent@example.com", "not the password")
		s2, unknown := b.Login(base, page, "nobody@example.com", "not the password")
		if s1 != http.StatusUnauthorized || s2 != http.StatusUnauthorized {
			t.Fatalf("statuses %d, %d; want 401, 401", s1, s2)
		}
		samltest.MustContain(t, wrong, "Wrong email or password.")
		samltest.MustContain(t, unknown, "Wrong email or password.")
		if h.sessions(t, "agent@example.com") != 0 {
			t.Fatal("a failed sign-in created a session")
		}
	})
	t.Run("disabled user", func(t *testing.T) {
		b := samltest.NewBrowser(t)
		page, _ := b.StartSignIn(sp)
		status, body := b.Login(base, page, "gone@example.com", password)
		samltest.WantStatus(t, "disabled user", status, http.StatusForbidden, body)
		samltest.MustContain(t, body, "disabled")
		if h.sessions(t, "gone@example.com") != 0 {
			t.Fatal("a disabled user got a session")
		}
	})
	t.Run("user without a role", func(t *testing.T) {
		b := samltest.NewBrowser(t)
		page, _ := b.StartSignIn(sp)
		status, body := b.Login(base, page, "norole@example.com", password)
		if status != http.StatusForbidden || strings.Contains(body, "SAMLResponse") {
			t.Fatalf("status %d (want 403, no Response)\n%s", status, body)
		}
		samltest.MustContain(t, body, "no Flex role")
	})
	t.Run("login form without CSRF token", func(t *testing.T) {
		b := samltest.NewBrowser(t)
		page, _ := b.StartSignIn(sp)
		f := samltest.HiddenFields(page)
		status, body := b.Post(base+"/login", url.Values{"state": {f["state"]}, "email": {"agent@example.com"}, "password": {password}})
		samltest.WantStatus(t, "no CSRF token", status, http.StatusForbidden, body)
		if h.sessions(t, "agent@example.com") != 0 {
			t.Fatal("a forged login created a session")
		}
	})
	t.Run("tampered login state", func(t *testing.T) {
		b := samltest.NewBrowser(t)
		page, _ := b.StartSignIn(sp)
		f := samltest.HiddenFields(page)
		status, body := b.Post(base+"/login", url.Values{"csrf": {f["csrf"]}, "state": {f["state"] + "x"}, "email": {"agent@example.com"}, "password": {password}})
		samltest.WantStatus(t, "tampered state", status, http.StatusBadRequest, body)
	})
}

// TestPostBindingAndHashUpgrade sends the AuthnRequest with the HTTP-POST
// binding, and checks a hash with weaker parameters than the server's is
// upgraded to them on sign-in.
func TestPostBindingAndHashUpgrade(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	ctx := context.Background()
	weak, err := users.NewHasher(users.Params{Memory: 16, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1).Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	// No service call stores a given hash (only import does, from a file):
	// write it as a migrated database would hold it.
	if _, err := h.Store.UpdateUser(ctx, h.user(t, "agent@example.com").ID, func(u users.User) (users.User, error) { u.PasswordHash = weak; return u, nil }); err != nil {
		t.Fatal(err)
	}

	sp := samltest.FlexSP(t, base)
	req, err := sp.MakeAuthenticationRequest(base+"/saml/sso", crewjam.HTTPPostBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	d := etree.NewDocument()
	d.SetRoot(req.Element())
	raw, _ := d.WriteToBytes()
	b := samltest.NewBrowser(t)
	status, body := b.Post(base+"/saml/sso", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {"post-relay"}})
	samltest.WantStatus(t, "POST binding", status, http.StatusOK, body)
	status, body = b.Login(base, body, "agent@example.com", password)
	samltest.WantStatus(t, "login", status, http.StatusOK, body)
	form := samltest.Form(t, body)
	samltest.Accepts(t, sp, form, req.ID)
	if form.RelayState != "post-relay" {
		t.Errorf("RelayState = %q", form.RelayState)
	}
	if got := h.user(t, "agent@example.com").PasswordHash; !strings.HasPrefix(got, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash not upgraded to the server's parameters: %q", got[:30])
	}
}
