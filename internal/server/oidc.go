package server

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
)

// oidcCookie carries the login state of a sign-in at an OpenID Provider
// while the browser is there: the provider sends back only a code and the
// state parameter.
const (
	oidcCookie = "flexidp_oidc"
	oidcTTL    = 10 * time.Minute
)

// oidcPending is a sign-in at a provider in progress. Secret is the
// nonce and the PKCE verifier, sealed (stateKeys.seal): the signed state
// is readable by its holder, and they are not theirs to read.
type oidcPending struct {
	Source string `json:"n"`
	State  string `json:"s"`
	Secret []byte `json:"k"`
}

// errOIDCState: the browser came back from the provider without the
// sign-in it started (another browser, an old tab, a forged link).
var errOIDCState = refusal(http.StatusBadRequest, "error.oidc_state", "error.start_again_hint")

func (s *Server) oidcRedirect() string {
	u := *s.cfg.BaseURL
	u.Path = strings.TrimSuffix(u.Path, "/") + "/login/oidc/callback"
	u.RawQuery = ""
	return u.String()
}

// loginOIDC is the "Continue with <name>" button.
func (s *Server) loginOIDC(w http.ResponseWriter, r *http.Request) {
	st, ok := s.postedState(w, r)
	if !ok {
		return
	}
	s.beginOIDC(w, r, st, r.PostFormValue("source"))
}

// beginOIDC sends the browser to the provider of source, the pending
// sign-in st kept in a cookie bound to this browser.
func (s *Server) beginOIDC(w http.ResponseWriter, r *http.Request, st loginState, source string) {
	if st.Console {
		s.fail(w, r, errBadState)
		return
	}
	start, err := s.acct.BeginOIDC(r.Context(), source, s.oidcRedirect())
	if errors.Is(err, accounts.ErrDirectoryUnavailable) {
		w.Header().Set("Retry-After", "30")
		s.showLogin(w, r, http.StatusServiceUnavailable, st, s.spLabel(r.Context(), st.spName()), "",
			tr(r, "login.provider_down", "source", source))
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	secret, err := s.stateKeys.seal(s.idp.Keys(), start.Nonce+" "+start.Verifier)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.csrfToken(w, r) // the binding below is to this cookie
	st.User, st.Cred, st.Via = "", 0, ""
	st.Bind = s.browserBinding(r)
	st.OIDC = &oidcPending{Source: source, State: start.State, Secret: secret}
	v, err := s.encodeState(st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.setCookie(w, oidcCookie, v, oidcTTL)
	http.Redirect(w, r, start.URL, http.StatusSeeOther)
}

// oidcCallback is where the provider sends the browser back: the state
// must be the one this browser's pending sign-in sent, and the ID token
// must carry its nonce.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	st, err := s.decodeState(s.cookie(r, oidcCookie))
	s.setCookie(w, oidcCookie, "", -1) // one use
	q := r.URL.Query()
	if err != nil || st.OIDC == nil || s.cookie(r, csrfCookie) == "" ||
		subtle.ConstantTimeCompare([]byte(st.Bind), []byte(s.browserBinding(r))) != 1 ||
		subtle.ConstantTimeCompare([]byte(st.OIDC.State), []byte(q.Get("state"))) != 1 {
		s.cfg.Metrics.signIn("bad_credentials")
		s.fail(w, r, errOIDCState)
		return
	}
	pending := *st.OIDC
	st.OIDC, st.Bind = nil, ""
	spLabel := s.spLabel(r.Context(), st.spName())
	if e := q.Get("error"); e != "" {
		s.cfg.Metrics.signIn("bad_credentials")
		s.showLogin(w, r, http.StatusUnauthorized, st, spLabel, "", tr(r, "login.provider_answered", "source", pending.Source, "error", e))
		return
	}
	secret, ok, err := s.stateKeys.open(s.idp.Keys(), pending.Secret)
	nonce, verifier, cut := strings.Cut(secret, " ")
	if err != nil || !ok || !cut {
		s.fail(w, r, errOIDCState)
		return
	}
	u, err := s.acct.FinishOIDC(r.Context(), pending.Source, s.oidcRedirect(), q.Get("code"), verifier, nonce, s.clientIP(r), st.spName())
	var ae *accounts.Error
	switch {
	case errors.Is(err, accounts.ErrOIDCRefused) && errors.As(err, &ae):
		s.cfg.Metrics.signIn("bad_credentials")
		s.showLogin(w, r, http.StatusUnauthorized, st, spLabel, "", tr(r, ae.Key, ae.Args...))
		return
	case errors.Is(err, accounts.ErrDirectoryUnavailable):
		s.cfg.Metrics.signIn("directory_unavailable")
		w.Header().Set("Retry-After", "30")
		s.showLogin(w, r, http.StatusServiceUnavailable, st, spLabel, "", tr(r, "login.provider_down", "source", pending.Source))
		return
	case errors.Is(err, accounts.ErrDisabled):
		s.cfg.Metrics.signIn("disabled")
		s.fail(w, r, errDisabled)
		return
	case err != nil:
		s.cfg.Metrics.signIn("error")
		s.fail(w, r, err)
		return
	}
	st.Via = "oidc:" + pending.Source
	if s.secondFactor(w, r, accounts.SignedIn{User: u}, st) {
		return
	}
	groups, ok := s.groupsFor(w, r, accounts.SignedIn{User: u}, st)
	if !ok {
		return
	}
	s.completeSignIn(w, r, u, groups, st, "")
}
