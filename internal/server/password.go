package server

import (
	"errors"
	"net/http"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// PasswordPath is where the links of `idp users invite` and
// `idp users reset-link` point: PasswordPath?token=SECRET.
const PasswordPath = "/password"

// LinkTokenID is the store ID (store.Token.ID) of the secret in a
// password link: its hash, so a database leak yields no usable link.
func LinkTokenID(secret string) string { return hashToken(secret) }

// linkUser returns the live token behind the link's secret and its user.
func (s *Server) linkUser(r *http.Request, secret string) (store.Token, users.User, error) {
	if secret == "" || len(secret) > 128 {
		return store.Token{}, users.User{}, errLinkUsed
	}
	t, err := s.store.GetToken(r.Context(), hashToken(secret))
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.now().Before(t.ExpiresAt) {
		return store.Token{}, users.User{}, errLinkUsed
	} else if err != nil {
		return store.Token{}, users.User{}, err
	}
	u, err := s.store.GetUser(r.Context(), t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, users.User{}, errLinkUsed
	}
	return t, u, err
}

func (s *Server) showPassword(w http.ResponseWriter, r *http.Request, status int, t store.Token, u users.User, secret, msg string) {
	title := "Choose a new password"
	if t.Purpose == store.TokenInvite {
		title = "Welcome to flexidp"
	}
	s.render(w, r, status, "password", page{Title: title, CSRF: s.csrfToken(w, r), Token: secret, Email: u.Email, Error: msg})
}

// passwordPage shows the form of a password link.
func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request) {
	secret := r.URL.Query().Get("token")
	t, u, err := s.linkUser(r, secret)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.showPassword(w, r, http.StatusOK, t, u, secret, "")
}

// setPassword sets the password of a link's user: the link is used up
// first (of two concurrent submissions one wins), then the password is
// stored, every session of the user ends, and the account is unlocked.
func (s *Server) setPassword(w http.ResponseWriter, r *http.Request) {
	if err := s.checkCSRF(r); err != nil {
		s.fail(w, r, err)
		return
	}
	secret := r.PostFormValue("token")
	t, u, err := s.linkUser(r, secret)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("confirm") {
		s.showPassword(w, r, http.StatusBadRequest, t, u, secret, "The two passwords differ.")
		return
	}
	if err := users.CheckPassword(pw, u.Email); err != nil {
		var ve *users.ValidationError
		errors.As(err, &ve)
		s.showPassword(w, r, http.StatusBadRequest, t, u, secret, "The password "+ve.Reason+".")
		return
	}
	ctx := r.Context()
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.store.ConsumeToken(ctx, t.ID, s.now()); errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, errLinkUsed)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.store.UpdateUser(ctx, u.ID, func(cur users.User) (users.User, error) {
		cur.SetPasswordHash(hash)
		return cur, nil
	}); err != nil {
		s.fail(w, r, err)
		return
	}
	ended, err := s.store.DeleteUserSessions(ctx, u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.DeleteThrottle(ctx, accountKey(u.Email)); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.WarnContext(ctx, "unlock account", "err", err)
	}
	s.audit(r, store.AuditEvent{Action: auditPasswordSet, Actor: u.Email, UserID: u.ID, Email: u.Email, Reason: t.Purpose,
		Details: details(map[string]int{"sessions_ended": ended})})
	s.render(w, r, http.StatusOK, "notice", page{Title: "Password set", Message: "Your password is set. You can sign in now."})
}
