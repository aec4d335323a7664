package accounts

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Mailer sends one plain-text email to one validated address.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// Config configures a Service. Store is required; the rest have defaults.
type Config struct {
	Store store.Store
	// Hasher hashes new passwords; nil means one slot of users.DefaultParams.
	Hasher *users.Hasher
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of IDs and link secrets; nil means crypto/rand.
	Rand io.Reader
	// Mailer sends password links; nil means links are only returned.
	Mailer Mailer
	// BaseURL is flexidp's external URL, where the links RequestReset
	// emails point; the server's.
	BaseURL *url.URL
	// Log receives each audit event as a structured line; nil discards.
	Log *slog.Logger
	// Lockout throttles sign-ins; zero fields take DefaultLockout's.
	Lockout LockoutPolicy
	// Passwords is the rule for new passwords; a zero MinLength means
	// users.MinPasswordLength.
	Passwords users.PasswordPolicy
	// MFARequiredRoles are the Flex roles whose users must use a second
	// factor (they enrol at their next sign-in). Any user may enrol.
	MFARequiredRoles []string
	// PasskeyRequiredRoles are the Flex roles whose users must sign in
	// with a passkey: they register one at their next sign-in, and TOTP
	// and recovery codes are refused to them. Any user may add passkeys.
	// Passkeys need a BaseURL whose host is a name (the relying party ID).
	PasskeyRequiredRoles []string
	// Secrets seals the directories' secrets (bind passwords) at rest;
	// nil stores them in the clear.
	Secrets Sealer
}

// Service applies the rules of accounts and administration to a store.
// It is safe for concurrent use.
type Service struct {
	st      store.Store
	hasher  *users.Hasher
	now     func() time.Time
	rand    io.Reader
	mailer  Mailer
	baseURL *url.URL
	// mail counts the emails RequestReset is sending (WaitMail).
	mail    sync.WaitGroup
	log     *slog.Logger
	lockout LockoutPolicy
	policy  users.PasswordPolicy
	mfaFor  []string
	// passkeyFor are the roles that require a passkey; rp is the
	// WebAuthn relying party (nil: passkeys are unavailable).
	passkeyFor []string
	rp         *webauthn.WebAuthn
	secrets    Sealer
	// dirs holds the live connections to the directories.
	dirs dirCache
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{st: cfg.Store, hasher: cfg.Hasher, rand: cfg.Rand, mailer: cfg.Mailer, baseURL: cfg.BaseURL, log: cfg.Log,
		lockout: cfg.Lockout.WithDefaults(), policy: cfg.Passwords,
		mfaFor: slices.Clone(cfg.MFARequiredRoles), passkeyFor: slices.Clone(cfg.PasskeyRequiredRoles), secrets: cfg.Secrets}
	if s.hasher == nil {
		s.hasher = users.NewHasher(users.DefaultParams, 1)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s.now = func() time.Time { return now().UTC() }
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if rp, err := newRelyingParty(cfg.BaseURL); err == nil {
		s.rp = rp
	} else if cfg.BaseURL != nil {
		s.log.Warn("passkeys are unavailable", "base_url", cfg.BaseURL.String(), "err", err)
	}
	return s
}

// Store returns the store the service works on, for adapters that only
// read (listing users, showing a key).
func (s *Service) Store() store.Store { return s.st }

// PasswordPolicy returns the rule for new passwords.
func (s *Service) PasswordPolicy() users.PasswordPolicy { return s.policy }

// Lockout returns the sign-in throttling policy in force.
func (s *Service) Lockout() LockoutPolicy { return s.lockout }

// Now returns the service's clock reading, in UTC.
func (s *Service) Now() time.Time { return s.now() }

// HasMailer reports whether password links can be emailed.
func (s *Service) HasMailer() bool { return s.mailer != nil }

// Actor is who makes a change: an administrator (the CLI's --actor, a
// console user, an API token's name) or the user themself, and the client
// address when the change comes over the network.
type Actor struct {
	Name    string
	Address string
}

// Change is one administrative change, for the audit trail.
type Change struct {
	// Action is recorded as "admin." + Action: "user.disable", "sp.add", ...
	Action string
	User   *users.User
	SP     string
	// Before and After are JSON-encoded into the event's Details.
	Before, After any
	Reason        string
}

// Audit appends e to the audit trail and writes it as a structured log
// line. It is the one audit writer: the web layer's sign-in events and the
// administrators' changes all go through it. A zero Time is set to now.
// The write survives a cancelled context (a client that disconnected): the
// thing it records has already happened. A failed write is logged and
// returned; callers whose change is already made report it as a warning.
func (s *Service) Audit(ctx context.Context, e store.AuditEvent) error {
	ctx = context.WithoutCancel(ctx)
	e = s.logAudit(ctx, e)
	if _, err := s.st.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit trail write failed", "action", e.Action, "err", err)
		return fmt.Errorf("the change was made but not recorded in the audit log: %w", err)
	}
	return nil
}

// logAudit writes e's log line and returns it with its Time set.
func (s *Service) logAudit(ctx context.Context, e store.AuditEvent) store.AuditEvent {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	attrs := []slog.Attr{slog.String("action", e.Action)}
	for _, kv := range [][2]string{{"actor", e.Actor}, {"user", e.UserID}, {"email", e.Email}, {"sp", e.SP},
		{"remote_addr", e.RemoteAddr}, {"reason", e.Reason}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	if len(e.Details) > 0 {
		attrs = append(attrs, slog.Any("details", logJSON(e.Details)))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
	return e
}

// Record commits what answering a browser writes (store.Visit): the
// replay record, the session started, ended or touched, and the audit
// events, in one transaction. Unlike Audit, the events are part of the
// commit: a Response is posted only once its record is written. Their
// log lines are written once the commit succeeded. ErrConflict (wrapped)
// when the request was already answered: nothing was written then.
func (s *Service) Record(ctx context.Context, v store.Visit) error {
	ctx = context.WithoutCancel(ctx)
	for i := range v.Audit {
		if v.Audit[i].Time.IsZero() {
			v.Audit[i].Time = s.now()
		}
	}
	if err := s.st.RecordVisit(ctx, v); err != nil {
		return err
	}
	for _, e := range v.Audit {
		s.logAudit(ctx, e)
	}
	return nil
}

// audit records an administrative change by actor.
func (s *Service) audit(ctx context.Context, actor Actor, c Change) error {
	e := store.AuditEvent{Action: "admin." + c.Action, Actor: actor.Name, RemoteAddr: actor.Address, SP: c.SP, Reason: c.Reason}
	if c.User != nil {
		e.UserID, e.Email = c.User.ID, c.User.Email
	}
	if c.Before != nil || c.After != nil {
		d := map[string]any{}
		if c.Before != nil {
			d["before"] = c.Before
		}
		if c.After != nil {
			d["after"] = c.After
		}
		e.Details = Details(d)
	}
	return s.Audit(ctx, e)
}

// Details encodes v as an audit event's Details.
func Details(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// logJSON logs as the JSON object itself in JSON logs, and as its text in
// text logs.
type logJSON json.RawMessage

func (j logJSON) MarshalJSON() ([]byte, error) { return j, nil }
func (j logJSON) MarshalText() ([]byte, error) { return j, nil }

// NewUserID returns a random UUID (version 4): the immutable user ID.
func (s *Service) NewUserID() string {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		panic(fmt.Sprintf("random source failed: %v", err)) // no entropy: nothing safe can be done
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
