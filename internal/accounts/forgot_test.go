package accounts_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/users"
)

// sentMail returns the emails sent so far, after the background sends.
func (f *fixture) sentMail() []string {
	f.svc.WaitMail()
	f.mail.mu.Lock()
	defer f.mail.mu.Unlock()
	return append([]string(nil), f.mail.sent...)
}

// lastReason is the reason of the last "password.reset_requested" event.
func (f *fixture) lastReason(t *testing.T) string {
	t.Helper()
	evs := f.audit(t, "password.reset_requested")
	if len(evs) == 0 {
		t.Fatal("no password.reset_requested event")
	}
	return evs[0].Reason // newest first
}

// resetLink returns the link in a reset email.
func resetLink(t *testing.T, mail string) string {
	t.Helper()
	i := strings.Index(mail, "https://idp.example.com/password?token=")
	if i < 0 {
		t.Fatalf("no reset link in %q", mail)
	}
	return strings.Fields(mail[i:])[0]
}

// TestRequestResetEmailsSingleUseLink: the forgot-password request of an
// enabled user emails a link valid 30 minutes, which works once and ends
// every session.
func TestRequestResetEmailsSingleUseLink(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "ada@example.com")
	f.session(t, u, "s1")
	if err := f.svc.RequestReset(ctx, "  ADA@example.com ", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	sent := f.sentMail()
	if len(sent) != 1 || !strings.HasPrefix(sent[0], "ada@example.com|Reset your flexidp password|") {
		t.Fatalf("sent %q", sent)
	}
	if !strings.Contains(sent[0], "until 2026-03-02 09:30 UTC") {
		t.Errorf("the link is not valid 30 minutes: %q", sent[0])
	}
	if r := f.lastReason(t); !strings.HasPrefix(r, "link emailed") {
		t.Errorf("audit reason %q", r)
	}
	secret := strings.TrimPrefix(resetLink(t, sent[0]), "https://idp.example.com/password?token=")
	_, ended, err := f.svc.UseLink(ctx, accounts.Actor{Address: "192.0.2.1"}, secret, goodPassword+"!")
	if err != nil || ended != 1 {
		t.Fatalf("UseLink: %d sessions ended, %v", ended, err)
	}
	if _, _, err := f.svc.UseLink(ctx, accounts.Actor{}, secret, goodPassword+"?"); !errors.Is(err, accounts.ErrLinkUsed) {
		t.Fatalf("second use: %v, want ErrLinkUsed", err)
	}
	f.now = f.now.Add(time.Hour)
	if err := f.svc.RequestReset(ctx, "ada@example.com", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	secret = strings.TrimPrefix(resetLink(t, f.sentMail()[1]), "https://idp.example.com/password?token=")
	f.now = f.now.Add(accounts.SelfResetTTL)
	if _, _, err := f.svc.UseLink(ctx, accounts.Actor{}, secret, goodPassword+"?"); !errors.Is(err, accounts.ErrLinkUsed) {
		t.Fatalf("expired link: %v, want ErrLinkUsed", err)
	}
}

// TestRequestResetNeverTells: whatever the account, the answer is nil and
// no email leaves unless a link is due; the audit records why.
func TestRequestResetNeverTells(t *testing.T) {
	for _, tc := range []struct {
		name, email string
		noMailer    bool
		reason      string
	}{
		{"unknown email", "nobody@example.com", false, "unknown email"},
		{"disabled user", "gone@example.com", false, "user disabled"},
		{"no mailer", "ada@example.com", true, "no mailer: an administrator must issue the link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			f.addUser(t, "ada@example.com")
			f.addUser(t, "gone@example.com")
			if _, err := f.svc.Disable(ctx, admin, "gone@example.com"); err != nil {
				t.Fatal(err)
			}
			if tc.noMailer {
				f.svc = accounts.New(accounts.Config{Store: f.st, Now: func() time.Time { return f.now }, BaseURL: fixtureBase})
			}
			if err := f.svc.RequestReset(ctx, tc.email, "192.0.2.1"); err != nil {
				t.Fatalf("RequestReset: %v, want nil", err)
			}
			if sent := f.sentMail(); len(sent) != 0 {
				t.Errorf("sent %q", sent)
			}
			if r := f.lastReason(t); r != tc.reason {
				t.Errorf("audit reason %q, want %q", r, tc.reason)
			}
			if n := len(f.audit(t, "admin.user.reset-link")); n != 0 {
				t.Errorf("%d links issued", n)
			}
		})
	}
}

// TestRequestResetThrottle: at most 3 requests per email (known or not)
// and 20 per client address in an hour; a refused request answers nil
// like the others and sends nothing.
func TestRequestResetThrottle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addUser(t, "ada@example.com")
	for i := range accounts.ResetsPerAccount + 1 {
		if err := f.svc.RequestReset(ctx, "ada@example.com", fmt.Sprintf("192.0.2.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.sentMail()); n != accounts.ResetsPerAccount {
		t.Fatalf("%d emails, want %d", n, accounts.ResetsPerAccount)
	}
	if r := f.lastReason(t); r != "throttled: too many requests for this account" {
		t.Errorf("audit reason %q", r)
	}
	f.now = f.now.Add(accounts.ResetWindow)
	if err := f.svc.RequestReset(ctx, "ada@example.com", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sentMail()); n != accounts.ResetsPerAccount+1 {
		t.Fatalf("after the window: %d emails, want %d", n, accounts.ResetsPerAccount+1)
	}

	// One address asking for many emails.
	for i := range accounts.ResetsPerAddress - 1 {
		if err := f.svc.RequestReset(ctx, fmt.Sprintf("u%d@example.com", i), "198.51.100.7"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.RequestReset(ctx, "ada@example.com", "198.51.100.7"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sentMail()); n != accounts.ResetsPerAccount+2 {
		t.Fatalf("the 20th request from an address: %d emails, want %d", n, accounts.ResetsPerAccount+2)
	}
	if err := f.svc.RequestReset(ctx, "ada@example.com", "198.51.100.7"); err != nil {
		t.Fatal(err)
	}
	if r := f.lastReason(t); r != "throttled: too many requests from this address" {
		t.Errorf("the 21st request from an address: audit reason %q", r)
	}
	if n := len(f.sentMail()); n != accounts.ResetsPerAccount+2 {
		t.Errorf("the 21st request from an address sent an email")
	}
}

func TestRequestResetMalformedEmail(t *testing.T) {
	f := newFixture(t)
	err := f.svc.RequestReset(context.Background(), "not an email", "192.0.2.1")
	if code(err) != accounts.Invalid {
		t.Fatalf("RequestReset: %v, want Invalid", err)
	}
	var ve *users.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("the cause is not kept: %v", err)
	}
}
