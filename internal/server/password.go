package server

import (
	"errors"
	"net/http"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// linkUser returns the live token behind a link's secret and its user.
func (s *Server) linkUser(r *http.Request, secret string) (store.Token, users.User, error) {
	t, u, err := s.acct.LinkUser(r.Context(), secret)
	if errors.Is(err, accounts.ErrLinkUsed) {
		return t, u, errLinkUsed
	}
	return t, u, err
}

func (s *Server) showPassword(w http.ResponseWriter, r *http.Request, status int, t store.Token, u users.User, secret, msg string) {
	title := "title.password"
	if t.Purpose == store.TokenInvite {
		title = "title.welcome"
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

// setPassword sets the password of a link's user through the same rule as
// an administrator's `idp users set-password` (accounts.Service.UseLink):
// the policy, every session ended, the account unlocked; the link works
// once, and a refused password leaves it usable.
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
		s.showPassword(w, r, http.StatusBadRequest, t, u, secret, tr(r, "password.differ"))
		return
	}
	_, _, err = s.acct.UseLink(r.Context(), accounts.Actor{Address: s.clientIP(r)}, secret, pw)
	var ve *users.ValidationError
	switch {
	case errors.As(err, &ve):
		s.showPassword(w, r, http.StatusBadRequest, t, u, secret, policyRefusal(r, ve))
		return
	case errors.Is(err, accounts.ErrLinkUsed):
		s.fail(w, r, errLinkUsed)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "notice", page{Title: "title.password_set", Message: tr(r, "password.set")})
}
