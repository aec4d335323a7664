package server_test

import (
	"context"
	"net/http"
	"net/smtp"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/smtptest"
	"github.com/flexidp/flexidp/internal/store"
)

// smtpServer is the test's SMTP server; it is also the IdP's mailer.
type smtpServer struct{ *smtptest.Server }

func startSMTP(t *testing.T) *smtpServer { return &smtpServer{smtptest.Start(t)} }

// Send is an accounts.Mailer that delivers to the server over SMTP, like
// idp serve's with IDP_SMTP_HOST.
func (s *smtpServer) Send(_ context.Context, to, subject, body string) error {
	msg := "From: idp@example.com\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n")
	return smtp.SendMail(s.Addr, nil, "idp@example.com", []string{to}, []byte(msg))
}

// forgotPost asks for a reset link for email in a new browser, and returns
// the status and the page with its request ID blanked.
func forgotPost(t *testing.T, base, email string) (int, string) {
	t.Helper()
	b := samltest.NewBrowser(t)
	status, form := b.Get(base + "/password/forgot")
	samltest.WantStatus(t, "forgot form", status, http.StatusOK, form)
	status, body := b.Post(base+"/password/forgot", url.Values{"csrf": {samltest.HiddenFields(form)["csrf"]}, "email": {email}})
	return status, requestIDRE.ReplaceAllString(body, "request ID")
}

var requestIDRE = regexp.MustCompile(`request [0-9A-Za-z_-]+</footer>`)

var linkRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/password\?token=[A-Za-z0-9_-]+`)

// TestForgotPasswordEmailsLink: the link on the login page leads to the
// form; the email reaches a real SMTP server; its link works once and ends
// the user's sessions; the request is audited.
func TestForgotPasswordEmailsLink(t *testing.T) {
	mail := startSMTP(t)
	h := newTestIdP(t, idpOptions{Mailer: mail})
	base := h.URL
	passwordPage(t, base, "agent@example.com", password) // a session
	if n := h.sessions(t, "agent@example.com"); n != 1 {
		t.Fatalf("%d sessions before the reset, want 1", n)
	}

	_, login := samltest.NewBrowser(t).Get(base + "/login")
	samltest.MustContain(t, login, `<a href="/password/forgot">Forgot your password?</a>`)
	status, body := forgotPost(t, base, "agent@example.com")
	samltest.WantStatus(t, "forgot", status, http.StatusOK, body)
	samltest.MustContain(t, body, "If an account exists for that address, we have sent it a link")

	msg := <-mail.Got
	samltest.MustContain(t, msg, "To: agent@example.com", "Subject: Reset your flexidp password")
	link := linkRE.FindString(strings.ReplaceAll(msg, "=\r\n", ""))
	if link == "" {
		t.Fatalf("no link in the email:\n%s", msg)
	}
	b := samltest.NewBrowser(t)
	status, page := b.Get(link)
	samltest.WantStatus(t, "reset link", status, http.StatusOK, page)
	f := samltest.HiddenFields(page)
	status, page = b.Post(base+"/password", url.Values{"csrf": {f["csrf"]}, "token": {f["token"]},
		"password": {"a brand new passphrase"}, "confirm": {"a brand new passphrase"}})
	samltest.WantStatus(t, "set password", status, http.StatusOK, page)
	if n := h.sessions(t, "agent@example.com"); n != 0 {
		t.Errorf("%d sessions after the reset, want 0", n)
	}
	status, page = b.Get(link)
	samltest.WantStatus(t, "reset link used twice", status, http.StatusGone, page)
	passwordPage(t, base, "agent@example.com", "a brand new passphrase")
	if got := h.audit(t, store.AuditFilter{Action: "password.reset_requested"}); len(got) != 1 {
		t.Errorf("audit %q", got)
	}
}

// TestForgotPasswordNoEnumeration: an unknown email, a disabled user and a
// throttled request (the 4th for one account within the hour) get the
// same status and page, byte for byte, as an existing account; only
// the first three requests of the account send an email.
func TestForgotPasswordNoEnumeration(t *testing.T) {
	mail := startSMTP(t)
	h := newTestIdP(t, idpOptions{Mailer: mail})
	if _, err := h.Accounts.Disable(context.Background(), admin, "gone@example.com"); err != nil {
		t.Fatal(err)
	}
	wantStatus, want := forgotPost(t, h.URL, "agent@example.com")
	for i, email := range []string{"nobody@example.com", "gone@example.com", "agent@example.com", "agent@example.com", "agent@example.com"} {
		status, body := forgotPost(t, h.URL, email)
		if status != wantStatus || body != want {
			t.Errorf("request %d for %s: status %d, page\n%s\nwant %d, page\n%s", i, email, status, body, wantStatus, want)
		}
	}
	h.Accounts.WaitMail()
	if n := len(mail.Got); n != 3 {
		t.Errorf("%d emails sent, want 3 (the 4th request for the account is throttled)", n)
	}
	trail := h.audit(t, store.AuditFilter{Action: "password.reset_requested"})
	if len(trail) != 6 || !strings.Contains(strings.Join(trail, "\n"), "throttled: too many requests for this account") {
		t.Fatalf("audit:\n%s", strings.Join(trail, "\n"))
	}
}

// TestForgotPasswordWithoutMail: without SMTP the form and its answer say
// to ask an administrator, and nothing is issued.
func TestForgotPasswordWithoutMail(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	_, form := samltest.NewBrowser(t).Get(h.URL + "/password/forgot")
	samltest.MustContain(t, form, "ask your administrator for a reset link", `autocomplete="email"`, `<label for="email">`)
	status, body := forgotPost(t, h.URL, "agent@example.com")
	samltest.WantStatus(t, "forgot", status, http.StatusOK, body)
	samltest.MustContain(t, body, "ask your administrator for a reset link")
	if strings.Contains(body, "we have sent") {
		t.Errorf("the page claims an email was sent:\n%s", body)
	}
	if n := len(h.audit(t, store.AuditFilter{Action: "admin.user.reset-link"})); n != 0 {
		t.Errorf("%d links issued", n)
	}
}

// TestForgotPasswordRefusals: a malformed email is a 400 with a sentence;
// a forged CSRF token is refused.
func TestForgotPasswordRefusals(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	status, body := forgotPost(t, h.URL, "not an email")
	samltest.WantStatus(t, "malformed email", status, http.StatusBadRequest, body)
	samltest.MustContain(t, body, "Enter your email address")
	status, body = samltest.NewBrowser(t).Post(h.URL+"/password/forgot", url.Values{"csrf": {"forged"}, "email": {"agent@example.com"}})
	if status != http.StatusForbidden && status != http.StatusBadRequest {
		t.Errorf("forged CSRF: status %d\n%s", status, body)
	}
}
