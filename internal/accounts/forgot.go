package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Self-service reset requests ("Forgot your password?") are throttled by
// a count in a fixed window, separately from sign-ins: ResetsPerAccount
// per email and ResetsPerAddress per client address in ResetWindow. An
// email that names nobody is counted like a real one, so the throttle
// tells nothing either. The address limit stops one client from mailing
// many accounts; the account limit stops many clients from flooding one
// mailbox.
const (
	ResetsPerAccount = 3
	ResetsPerAddress = 20
	ResetWindow      = time.Hour
	// SelfResetTTL is how long a link asked for on the forgot-password
	// page stays usable: short, as its email may sit unread in a mailbox.
	SelfResetTTL = 30 * time.Minute
	// mailTimeout bounds the sending of one reset email in the background.
	mailTimeout = time.Minute
)

// ResetAccountKey and ResetAddressKey are the throttle keys of reset
// requests for an email and from a client address.
func ResetAccountKey(email string) string { return "reset:acct:" + strings.ToLower(email) }
func ResetAddressKey(ip string) string    { return "reset:ip:" + ip }

// errResetThrottled is a refusal of spend.
var errResetThrottled = errors.New("reset requests throttled")

// spend counts one request against key, or refuses it when limit requests
// were counted in the current window. The record's Failures is the count
// and LastFailure the start of the window (housekeeping keeps records
// ThrottleRetention, longer than ResetWindow).
func (s *Service) spend(ctx context.Context, key string, limit int) error {
	_, err := s.st.UpdateThrottle(ctx, key, func(t store.Throttle) (store.Throttle, error) {
		now := s.now()
		if now.Sub(t.LastFailure) >= ResetWindow {
			t.Failures, t.LastFailure = 0, now
		}
		if t.Failures >= limit {
			return t, errResetThrottled
		}
		t.Failures++
		t.LastAttempt = now
		return t, nil
	})
	return err
}

// RequestReset is the forgot-password form: it emails a single-use reset
// link, valid SelfResetTTL, when email names an enabled user and a mailer
// is set. The answer never tells whether the account exists: it is nil for
// every well-formed email, whatever happened (the audit event
// "password.reset_requested" records the outcome in its reason: sent,
// unknown, disabled, no mailer, throttled). A malformed email is Invalid.
// address is the client's; requests are throttled per email and per
// address (ResetsPerAccount, ResetsPerAddress). The email is sent in the
// background, so that the time of the answer does not depend on the SMTP
// server (WaitMail waits for it); the rest (look-up, link, audit) is done
// before returning, and an unknown email costs a look-up and an audit
// write like a known one.
func (s *Service) RequestReset(ctx context.Context, email, address string) error {
	email = users.NormalizeEmail(email)
	if err := users.ValidateEmail(email); err != nil {
		return &Error{Code: Invalid, Message: "Enter your email address, like agent@example.com.", Key: "forgot.invalid_email", Err: err}
	}
	e := store.AuditEvent{Action: "password.reset_requested", Actor: email, Email: email, RemoteAddr: address}
	record := func(reason string) error {
		e.Reason = reason
		if err := s.Audit(ctx, e); err != nil {
			return err
		}
		return nil
	}
	if address != "" {
		if err := s.spend(ctx, ResetAddressKey(address), ResetsPerAddress); errors.Is(err, errResetThrottled) {
			return record("throttled: too many requests from this address")
		} else if err != nil {
			return err
		}
	}
	if err := s.spend(ctx, ResetAccountKey(email), ResetsPerAccount); errors.Is(err, errResetThrottled) {
		return record("throttled: too many requests for this account")
	} else if err != nil {
		return err
	}
	u, err := s.st.GetUserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return record("unknown email")
	case err != nil:
		return err
	}
	e.UserID, e.Email = u.ID, u.Email
	switch {
	case u.Disabled:
		return record("user disabled")
	case s.mailer == nil:
		return record("no mailer: an administrator must issue the link")
	case s.baseURL == nil:
		s.log.ErrorContext(ctx, "forgot password: no base URL for the link")
		return record("no base URL for the link")
	}
	link, err := s.IssueLink(ctx, Actor{Name: u.Email, Address: address},
		LinkRequest{Ref: u.Email, Purpose: store.TokenReset, BaseURL: s.baseURL, TTL: SelfResetTTL})
	if err != nil {
		return err
	}
	subject, body := linkEmail(i18n.FromContext(ctx), store.TokenReset, link)
	s.mail.Add(1)
	go func() {
		defer s.mail.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mailTimeout)
		defer cancel()
		if err := s.mailer.Send(ctx, u.Email, subject, body); err != nil {
			s.log.ErrorContext(ctx, "forgot password: email the reset link", "user", u.ID, "err", err)
		}
	}()
	return record("link emailed, expires " + link.ExpiresAt.Format(time.RFC3339))
}

// WaitMail waits until the emails RequestReset sends in the background are
// sent (or failed): a server calls it when it shuts down.
func (s *Service) WaitMail() { s.mail.Wait() }
