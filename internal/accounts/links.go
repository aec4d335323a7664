package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// PasswordPath is where password links point: PasswordPath?token=SECRET.
const PasswordPath = "/password"

// MaxLinkTTL is the longest a password link may stay usable.
const MaxLinkTTL = 30 * 24 * time.Hour

// Default lifetimes of password links.
const (
	InviteTTL = 7 * 24 * time.Hour
	ResetTTL  = 24 * time.Hour
)

// LinkTokenID is the store ID (store.Token.ID) of the secret in a password
// link: its hash, so a database leak yields no usable link.
func LinkTokenID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// LinkRequest asks for a single-use link where a user sets a password.
type LinkRequest struct {
	// Ref is the user's email or ID. For an invitation of someone who has
	// no account yet, it is the email of the account to create.
	Ref string
	// Purpose is store.TokenInvite or store.TokenReset.
	Purpose string
	// BaseURL is flexidp's external URL, which the link points to.
	BaseURL *url.URL
	// TTL is how long the link stays usable; zero means the purpose's
	// default (InviteTTL, ResetTTL).
	TTL time.Duration
	// Profile is the new user of an invitation, when Ref names nobody
	// (ID and Email are set by the service).
	Profile users.User
	// Email sends the link to the user as well, when a mailer is set.
	Email bool
}

// Link is an issued password link. The URL holds the secret: it is shown
// once and never stored.
type Link struct {
	URL       string
	User      users.User
	ExpiresAt time.Time
	// Created is true when an invitation created the user.
	Created bool
	// Emailed is true when the link was sent by email.
	Emailed bool
}

// IssueLink checks everything first (base URL, lifetime, the user, the
// profile of a new user), so that nothing is written when the link cannot
// be issued; then creates the invited user if needed, stores the hash of
// a new secret, records it, and emails the link when asked and a mailer
// is set. An email that fails is reported as Unavailable with the link
// still returned (it is valid: the administrator can pass it on).
func (s *Service) IssueLink(ctx context.Context, actor Actor, req LinkRequest) (Link, error) {
	if req.BaseURL == nil || !req.BaseURL.IsAbs() || req.BaseURL.Host == "" {
		return Link{}, errorf(Invalid, "flexidp's external URL is needed for the link (IDP_BASE_URL or --base-url).")
	}
	ttl := req.TTL
	switch req.Purpose {
	case store.TokenInvite:
		ttl = cmpOr(ttl, InviteTTL)
	case store.TokenReset:
		ttl = cmpOr(ttl, ResetTTL)
	default:
		return Link{}, errorf(Invalid, "A password link is for an invitation or a reset, not %q.", req.Purpose)
	}
	if ttl <= 0 || ttl > MaxLinkTTL {
		return Link{}, errorf(Invalid, "A link must stay usable between 1s and %s.", MaxLinkTTL)
	}
	u, err := s.FindUser(ctx, req.Ref)
	created := false
	switch {
	case ErrorCode(err) == NotFound && req.Purpose == store.TokenInvite:
		u = req.Profile
		u.ID, u.Email, u.PasswordHash = s.NewUserID(), users.NormalizeEmail(req.Ref), ""
		if err := u.Validate(); err != nil {
			return Link{}, invalid(err)
		}
		created = true
	case err != nil:
		return Link{}, err
	case req.Purpose == store.TokenInvite && u.PasswordHash != "":
		return Link{}, errorf(Conflict, "%s already has a password; send a reset link instead.", u.Email)
	}
	secret, err := s.secret()
	if err != nil {
		return Link{}, err
	}
	if created {
		if err := s.st.CreateUser(ctx, u); errors.Is(err, store.ErrConflict) {
			return Link{}, &Error{Code: Conflict, Message: fmt.Sprintf("A user with email %s already exists.", u.Email), Err: err}
		} else if err != nil {
			return Link{}, err
		}
		if err := s.audit(ctx, actor, Change{Action: "user.add", User: &u, After: UserView(u)}); err != nil {
			return Link{}, err
		}
	}
	t := store.Token{ID: LinkTokenID(secret), UserID: u.ID, Purpose: req.Purpose, ExpiresAt: s.now().Add(ttl).UTC()}
	if err := s.st.CreateToken(ctx, t); err != nil {
		return Link{}, fmt.Errorf("store the link: %w", err)
	}
	link := Link{URL: strings.TrimSuffix(req.BaseURL.String(), "/") + PasswordPath + "?token=" + secret,
		User: u, ExpiresAt: t.ExpiresAt, Created: created}
	action := map[string]string{store.TokenInvite: "user.invite", store.TokenReset: "user.reset-link"}[req.Purpose]
	if err := s.audit(ctx, actor, Change{Action: action, User: &u, Reason: "expires " + t.ExpiresAt.Format(time.RFC3339)}); err != nil {
		return link, err
	}
	if req.Email && s.mailer != nil {
		subject, body := linkEmail(i18n.FromContext(ctx), req.Purpose, link)
		if err := s.mailer.Send(ctx, u.Email, subject, body); err != nil {
			return link, &Error{Code: Unavailable, Message: "The link was created but could not be emailed: " + err.Error(), Err: err}
		}
		link.Emailed = true
	}
	return link, nil
}

func linkEmail(lang, purpose string, l Link) (subject, body string) {
	subject, intro := i18n.T(lang, "email.reset_subject"), i18n.T(lang, "email.reset_intro")
	if purpose == store.TokenInvite {
		subject, intro = i18n.T(lang, "email.invite_subject"), i18n.T(lang, "email.invite_intro")
	}
	body = fmt.Sprintf("%s\n\n%s\n\n%s\n\n%s\n", intro,
		i18n.T(lang, "email.choose", "expires", l.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")), l.URL, i18n.T(lang, "email.ignore"))
	return subject, body
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// secret is the secret of a password link: 256 random bits.
func (s *Service) secret() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("random source: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ErrLinkUsed is the one answer for a link that does not exist, expired,
// was used, or whose user is gone: a person can do the same about each
// (ask for a new one).
var ErrLinkUsed = &Error{Code: NotFound, Message: "This link has expired or has already been used. Ask for a new one on the sign-in page (Forgot your password?) or from your administrator.",
	Key: "error.link_used"}

// LinkUser returns the live token behind a link's secret and its user.
func (s *Service) LinkUser(ctx context.Context, secret string) (store.Token, users.User, error) {
	if secret == "" || len(secret) > 128 {
		return store.Token{}, users.User{}, ErrLinkUsed
	}
	t, err := s.st.GetToken(ctx, LinkTokenID(secret))
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.now().Before(t.ExpiresAt) {
		return store.Token{}, users.User{}, ErrLinkUsed
	} else if err != nil {
		return store.Token{}, users.User{}, err
	}
	u, err := s.st.GetUser(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, users.User{}, ErrLinkUsed
	}
	return t, u, err
}

// UseLink sets the password of a link's user with the same rules as
// SetPassword (policy, sessions end, account unlocked). The password is
// checked before the link is used up, so a refused password leaves the
// link usable; of two concurrent submissions exactly one wins.
func (s *Service) UseLink(ctx context.Context, actor Actor, secret, password string) (users.User, int, error) {
	t, u, err := s.LinkUser(ctx, secret)
	if err != nil {
		return u, 0, err
	}
	h, err := s.checkAndHash(ctx, u, password)
	if err != nil {
		return u, 0, err
	}
	if _, err := s.st.ConsumeToken(ctx, t.ID, s.now()); errors.Is(err, store.ErrNotFound) {
		return u, 0, ErrLinkUsed
	} else if err != nil {
		return u, 0, err
	}
	if actor.Name == "" {
		actor.Name = u.Email
	}
	n, err := s.storePassword(ctx, actor, u, h, t.Purpose)
	return u, n, err
}
