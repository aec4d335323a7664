package main

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

	"github.com/flexidp/flexidp/internal/store/pgtest"
	"github.com/flexidp/flexidp/internal/store/postgres"
	"github.com/flexidp/flexidp/internal/users"
)

// setupFlex registers the Flex SP and the test users through the CLI, as
// an administrator would.
func setupFlex(t *testing.T, e *testEnv) {
	t.Helper()
	e.cli("", "sp", "add-flex", "--acs", flexACS, "--default-redirect-url", "https://flex.twilio.com/dancing-owl-1234")
	e.cli(password+"\n", "users", "add", "--email", "Sam.Supervisor@Example.com", "--name", "Sam Supervisor",
		"--roles", "supervisor,agent", "--team", "Sales", "--program", "Retail")
	e.cli(password+"\n", "users", "add", "--email", "agent@example.com", "--given-name", "Alex", "--family-name", "Agent",
		"--roles", "agent", "--image-url", "https://example.com/alex.png")
	e.cli(password+"\n", "users", "add", "--email", "norole@example.com")
	e.cli(password+"\n", "users", "add", "--email", "gone@example.com", "--roles", "agent")
	e.cli("", "users", "disable", "--email", "gone@example.com")
}

func newTestEnv(t *testing.T) *testEnv {
	db := pgtest.URL(t)
	return &testEnv{t: t, dbURL: db, getenv: map[string]string{"IDP_DATABASE_URL": db}}
}

// TestSignInEndToEnd drives the SP-initiated flow the way Flex does, with
// crewjam's SP code playing Flex, and checks the Response as a strict SP
// would: crewjam's parser and xmlsec1 for both signatures.
func TestSignInEndToEnd(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe("--metrics-token", testMetricsToken)
	sp := flexTestSP(t, base)
	certPEM := getBody(t, base+"/saml/certificate.pem")

	b := newBrowser(t)
	redirect, reqID := authnRedirect(t, sp, "flex-relay-42", nil)
	status, body := b.get(redirect)
	if status != http.StatusOK {
		t.Fatalf("SSO GET: status %d\n%s", status, body)
	}
	mustContain(t, body, "Sign in", "flex")

	status, body = b.login(base, body, "sam.supervisor@example.com", password)
	if status != http.StatusOK {
		t.Fatalf("login: status %d\n%s", status, body)
	}
	form := samlForm(t, body)
	if form.action != flexACS {
		t.Fatalf("form posts to %q, want the registered ACS %q", form.action, flexACS)
	}
	if form.relayState != "flex-relay-42" {
		t.Fatalf("RelayState = %q, want it echoed", form.relayState)
	}
	assertion := flexAccepts(t, sp, form, reqID)
	if got := assertion.Subject.NameID.Value; got != "Sam.Supervisor@Example.com" {
		t.Errorf("NameID = %q", got)
	}
	if got := assertion.Subject.NameID.Format; got != "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" {
		t.Errorf("NameID Format = %q", got)
	}
	attrs := attrValues(assertion)
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
	checkResponseShape(t, form.xml, reqID, base)
	verifyWithXmlsec(t, form.xml, certPEM)
	ol := verifyWithOneLogin(t, form.xml, certPEM, base+"/saml/metadata", flexACS, reqID)
	if ol.NameID != "" && (ol.NameID != "Sam.Supervisor@Example.com" || strings.Join(ol.Attributes["roles"], ",") != "supervisor,agent") {
		t.Errorf("python3-saml read NameID %q, roles %q", ol.NameID, ol.Attributes["roles"])
	}

	// A second SSO within the session does not prompt.
	redirect2, reqID2 := authnRedirect(t, sp, "", nil)
	status, body = b.get(redirect2)
	if status != http.StatusOK {
		t.Fatalf("second SSO: status %d\n%s", status, body)
	}
	flexAccepts(t, sp, samlForm(t, body), reqID2)
	if strings.Contains(body, `name="RelayState"`) {
		t.Error("an empty RelayState must not be posted")
	}

	// The same request is never answered twice.
	status, body = b.get(redirect2)
	if status != http.StatusConflict {
		t.Fatalf("replayed AuthnRequest: status %d, want 409\n%s", status, body)
	}
	mustContain(t, body, "already been answered")
	if strings.Contains(body, "SAMLResponse") {
		t.Fatal("a replayed request got a Response")
	}

	// The metrics saw one password sign-in and two Responses to flex.
	_, metrics := scrape(t, base+"/metrics", testMetricsToken)
	for _, m := range []string{`flexidp_signins_total{result="success"} 1`, `flexidp_saml_responses_total{sp="flex",status="success"} 2`,
		`flexidp_password_hash_queue_depth 0`, `flexidp_store_pool_connections{state="max"}`,
		`flexidp_http_request_duration_seconds_count{code="200",method="POST",route="/login"} 1`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %s", m)
		}
	}

	// Logout ends the session: the next SSO prompts again.
	_, launcher := b.get(base + "/launcher")
	status, body = b.post(base+"/logout", url.Values{"csrf": {hiddenFields(launcher)["csrf"]}})
	if status != http.StatusOK {
		t.Fatalf("logout: status %d\n%s", status, body)
	}
	redirect3, _ := authnRedirect(t, sp, "", nil)
	_, body = b.get(redirect3)
	mustContain(t, body, `name="password"`)
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
	if resp.Tag != "Response" || resp.SelectAttrValue("Destination", "") != flexACS || resp.SelectAttrValue("InResponseTo", "") != reqID {
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
	if scd.SelectAttrValue("Recipient", "") != flexACS || scd.SelectAttrValue("InResponseTo", "") != reqID ||
		scd.SelectAttr("NotBefore") != nil || scd.SelectAttr("Address") != nil {
		t.Errorf("SubjectConfirmationData = %v", scd.Attr)
	}
	if got := a.FindElement("./Conditions/AudienceRestriction/Audience").Text(); got != "urn:flex:"+flexConn {
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

func TestIdPInitiatedAndLauncher(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()
	sp := flexTestSP(t, base)
	sp.AllowIDPInitiated = true

	b := newBrowser(t)
	// Without a session the IdP-initiated URL asks for the password, then posts.
	status, body := b.get(base + "/sso/idp/flex")
	if status != http.StatusOK {
		t.Fatalf("status %d\n%s", status, body)
	}
	status, body = b.login(base, body, "agent@example.com", password)
	if status != http.StatusOK {
		t.Fatalf("login: %d\n%s", status, body)
	}
	form := samlForm(t, body)
	if form.relayState != "https://flex.twilio.com/dancing-owl-1234" {
		t.Fatalf("RelayState = %q, want the Default Redirect URL", form.relayState)
	}
	assertion := flexAccepts(t, sp, form)
	attrs := attrValues(assertion)
	if got := attrs["full_name"]; len(got) != 1 || got[0] != "Alex Agent" {
		t.Errorf("full_name = %q, want given+family name", got)
	}
	if got := attrs["image_url"]; len(got) != 1 || got[0] != "https://example.com/alex.png" {
		t.Errorf("image_url = %q", got)
	}
	d := etree.NewDocument()
	_ = d.ReadFromBytes(form.xml)
	if d.Root().SelectAttr("InResponseTo") != nil || d.FindElement("//SubjectConfirmationData").SelectAttr("InResponseTo") != nil {
		t.Error("an unsolicited Response must not carry InResponseTo")
	}
	verifyWithXmlsec(t, form.xml, getBody(t, base+"/saml/certificate.pem"))
	verifyWithOneLogin(t, form.xml, getBody(t, base+"/saml/certificate.pem"), base+"/saml/metadata", flexACS, "")

	// The launcher lists the SP and its button posts (with CSRF) a Response.
	status, body = b.get(base + "/launcher")
	if status != http.StatusOK {
		t.Fatalf("launcher: %d", status)
	}
	mustContain(t, body, "agent@example.com", `action="/sso/idp/flex"`)
	status, body = b.post(base+"/sso/idp/flex", url.Values{"csrf": {hiddenFields(body)["csrf"]}})
	if status != http.StatusOK {
		t.Fatalf("launch: %d\n%s", status, body)
	}
	samlForm(t, body)
	// Without the CSRF token the launch is refused.
	status, _ = b.post(base+"/sso/idp/flex", url.Values{"csrf": {"forged"}})
	if status != http.StatusForbidden {
		t.Fatalf("launch without CSRF token: %d, want 403", status)
	}
}

// TestBadInputClearAnswers sends each kind of bad input and expects a 4xx
// page a person understands, no Response, and nothing written.
func TestBadInputClearAnswers(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()
	sp := flexTestSP(t, base)

	expired, _ := authnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) { r.IssueInstant = time.Now().Add(-10 * time.Minute) })
	unknownSP, _ := authnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) { r.Issuer.Value = "urn:flex:JQffffffffffffffffffffffffffffffff" })
	evilACS, _ := authnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) { r.AssertionConsumerServiceURL = "https://evil.example.com/acs" })
	cases := []struct {
		name, url string
		status    int
		says      string
	}{
		{"no SAMLRequest", base + "/saml/sso", 400, "no SAMLRequest"},
		{"bad base64", base + "/saml/sso?SAMLRequest=" + url.QueryEscape("!!not base64!!"), 400, "base64"},
		{"bad deflate", base + "/saml/sso?SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("plainly not deflate"))), 400, "DEFLATE"},
		{"bad XML", base + "/saml/sso?SAMLRequest=" + url.QueryEscape(deflateB64(t, "<samlp:AuthnRequest <<")), 400, "XML"},
		{"expired", expired, 400, "expired"},
		{"unknown SP", unknownSP, 400, "does not know"},
		{"unregistered ACS", evilACS, 400, "not registered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBrowser(t)
			status, body := b.get(c.url)
			if status != c.status {
				t.Fatalf("status %d, want %d\n%s", status, c.status, body)
			}
			mustContain(t, body, c.says)
			if strings.Contains(body, "SAMLResponse") || strings.Contains(body, "evil.example.com") {
				t.Fatalf("bad request produced a Response or echoed the ACS:\n%s", body)
			}
			if strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") {
				t.Fatalf("stack trace shown:\n%s", body)
			}
		})
	}

	ctx := context.Background()
	st, err := postgres.Open(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sessionsOf := func(email string) int {
		u, err := st.GetUserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := st.ListSessions(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(ss)
	}

	t.Run("wrong password and unknown email look the same", func(t *testing.T) {
		b := newBrowser(t)
		page, _ := b.startSignIn(sp)
		s1, wrong := b.login(base, page, "agent@example.com", "not the password")
		s2, unknown := b.login(base, page, "nobody@example.com", "not the password")
		if s1 != http.StatusUnauthorized || s2 != http.StatusUnauthorized {
			t.Fatalf("statuses %d, %d; want 401, 401", s1, s2)
		}
		mustContain(t, wrong, "Wrong email or password.")
		mustContain(t, unknown, "Wrong email or password.")
		if sessionsOf("agent@example.com") != 0 {
			t.Fatal("a failed sign-in created a session")
		}
	})
	t.Run("disabled user", func(t *testing.T) {
		b := newBrowser(t)
		page, _ := b.startSignIn(sp)
		status, body := b.login(base, page, "gone@example.com", password)
		if status != http.StatusForbidden {
			t.Fatalf("status %d\n%s", status, body)
		}
		mustContain(t, body, "disabled")
		if sessionsOf("gone@example.com") != 0 {
			t.Fatal("a disabled user got a session")
		}
	})
	t.Run("user without a role", func(t *testing.T) {
		b := newBrowser(t)
		page, _ := b.startSignIn(sp)
		status, body := b.login(base, page, "norole@example.com", password)
		if status != http.StatusForbidden || strings.Contains(body, "SAMLResponse") {
			t.Fatalf("status %d (want 403, no Response)\n%s", status, body)
		}
		mustContain(t, body, "no Flex role")
	})
	t.Run("login form without CSRF token", func(t *testing.T) {
		b := newBrowser(t)
		page, _ := b.startSignIn(sp)
		f := hiddenFields(page)
		status, _ := b.post(base+"/login", url.Values{"state": {f["state"]}, "email": {"agent@example.com"}, "password": {password}})
		if status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", status)
		}
		if sessionsOf("agent@example.com") != 0 {
			t.Fatal("a forged login created a session")
		}
	})
	t.Run("tampered login state", func(t *testing.T) {
		b := newBrowser(t)
		page, _ := b.startSignIn(sp)
		f := hiddenFields(page)
		status, body := b.post(base+"/login", url.Values{"csrf": {f["csrf"]}, "state": {f["state"] + "x"}, "email": {"agent@example.com"}, "password": {password}})
		if status != http.StatusBadRequest {
			t.Fatalf("status %d, want 400\n%s", status, body)
		}
	})
}

// TestPostBindingAndHashUpgrade sends the AuthnRequest with the HTTP-POST
// binding, and checks a hash with weaker parameters is upgraded on sign-in.
func TestPostBindingAndHashUpgrade(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	ctx := context.Background()
	st, err := postgres.Open(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	weak, err := users.NewHasher(users.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1).Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByEmail(ctx, "agent@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateUser(ctx, u.ID, func(u users.User) (users.User, error) { u.PasswordHash = weak; return u, nil }); err != nil {
		t.Fatal(err)
	}

	base := e.startServe()
	sp := flexTestSP(t, base)
	req, err := sp.MakeAuthenticationRequest(base+"/saml/sso", crewjam.HTTPPostBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	d := etree.NewDocument()
	d.SetRoot(req.Element())
	raw, _ := d.WriteToBytes()
	b := newBrowser(t)
	status, body := b.post(base+"/saml/sso", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {"post-relay"}})
	if status != http.StatusOK {
		t.Fatalf("POST binding: %d\n%s", status, body)
	}
	status, body = b.login(base, body, "agent@example.com", password)
	if status != http.StatusOK {
		t.Fatalf("login: %d\n%s", status, body)
	}
	form := samlForm(t, body)
	flexAccepts(t, sp, form, req.ID)
	if form.relayState != "post-relay" {
		t.Errorf("RelayState = %q", form.relayState)
	}
	u, err = st.GetUserByEmail(ctx, "agent@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash not upgraded: %q", u.PasswordHash[:30])
	}
}
