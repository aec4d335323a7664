package server

import (
	"errors"
	"net/http"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// errBadCredentials is the one message for an unknown email and a wrong
// password: the page does not reveal which accounts exist.
const errBadCredentials = "Wrong email or password."

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/launcher", http.StatusSeeOther)
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.currentSession(r); err == nil {
		http.Redirect(w, r, "/launcher", http.StatusSeeOther)
		return
	}
	s.showLogin(w, r, http.StatusOK, loginState{}, "", "", "")
}

// showLogin renders the login form for the pending sign-in st; spLabel is
// the name people read for its SP (its display name), "" for none.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, st loginState, spLabel, email, msg string) {
	state, err := s.encodeState(st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "login", page{Title: "Sign in", CSRF: s.csrfToken(w, r), State: state,
		SPName: spLabel, Email: email, Error: msg})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	st, ok := s.postedState(w, r)
	if !ok {
		return
	}
	st.User, st.Bind = "", "" // a login form never carries a verified password
	spName := st.spName()
	email := users.NormalizeEmail(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	if email == "" || password == "" {
		s.showLogin(w, r, http.StatusBadRequest, st, s.spLabel(r.Context(), spName), email, "Enter your email and password.")
		return
	}

	u, err := s.acct.SignIn(r.Context(), accounts.SignInRequest{Email: email, Password: password, Address: s.clientIP(r), SP: spName})
	var throttled *accounts.ThrottledError
	switch {
	case errors.As(err, &throttled):
		s.cfg.Metrics.signIn("throttled")
		// Decided before the account is looked up: the same page, status
		// and timing for existing and unknown accounts.
		msg := "Too many failed sign-ins for this account or from this network. Try again in " + retryAfter(w, throttled.Wait) + "."
		if throttled.Crowded {
			msg = "Too many sign-ins for this account at the same moment. Try again in " + retryAfter(w, throttled.Wait) + "."
		}
		s.showLogin(w, r, http.StatusTooManyRequests, st, s.spLabel(r.Context(), spName), email, msg)
		return
	case errors.Is(err, accounts.ErrBadCredentials):
		s.cfg.Metrics.signIn("bad_credentials")
		s.showLogin(w, r, http.StatusUnauthorized, st, s.spLabel(r.Context(), spName), email, errBadCredentials)
		return
	case errors.Is(err, accounts.ErrDisabled):
		s.cfg.Metrics.signIn("disabled")
		s.fail(w, r, errDisabled)
		return
	case errors.Is(err, users.ErrBusy):
		s.cfg.Metrics.signIn("busy")
		w.Header().Set("Retry-After", "5")
		s.fail(w, r, errBusy)
		return
	case err != nil:
		s.cfg.Metrics.signIn("error")
		s.fail(w, r, err)
		return
	}
	if s.secondFactor(w, r, u, st) {
		return
	}
	s.completeSignIn(w, r, u, st, "password")
}

// spName is the SP a pending sign-in is for, if any.
func (st loginState) spName() string {
	if st.Req != nil {
		return st.Req.SP
	}
	return st.IdPInit
}

// completeSignIn starts the session of u, who proved who they are with
// method, and continues where the sign-in started. The session, the
// sign-in event and the Response that follows are one commit.
func (s *Server) completeSignIn(w http.ResponseWriter, r *http.Request, u users.User, st loginState, method string) {
	sess, v := s.beginSession(r, u, store.AuditEvent{Action: accounts.AuditSignIn, Actor: u.Email, UserID: u.ID, Email: u.Email, SP: st.spName(), Reason: method})
	s.cfg.Metrics.signIn("success")
	s.proceed(w, r, u, sess, st, v)
}

// proceed continues a sign-in once the session is decided: answer the
// pending AuthnRequest, post to the SP of an IdP-initiated login, or show
// the launcher. v is what the sign-in still has to commit.
func (s *Server) proceed(w http.ResponseWriter, r *http.Request, u users.User, sess store.Session, st loginState, v *visit) {
	name := st.spName()
	if name == "" {
		if err := s.record(w, r, v, nil, nil); err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/launcher", http.StatusSeeOther)
		return
	}
	for again := true; ; again = false {
		provider, err := s.sps.get(r.Context(), s.store, store.SPRef{Name: name})
		if err != nil {
			s.refuse(w, r, v, nil, err)
			return
		}
		if !s.answer(w, r, u, sess, st.Req, provider, v) {
			return
		}
		// The SP changed since it was read: nothing was written; read it
		// anew and answer once more.
		s.sps.forget(name)
		if !again {
			s.refuse(w, r, v, nil, errSPChanged)
			return
		}
	}
}

func (s *Server) launcher(w http.ResponseWriter, r *http.Request) {
	_, u, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	mine, err := s.acct.Apps(r.Context(), u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var apps []app
	for _, p := range mine {
		apps = append(apps, app{Name: p.Name, Label: p.Label(), EntityID: p.EntityID})
	}
	_, mfaOn, err := s.acct.ConfirmedFactor(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "launcher", page{Title: "Your applications", CSRF: s.csrfToken(w, r), Email: u.Email, Apps: apps, MFAOn: mfaOn})
}

func (s *Server) logoutPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "logout", page{Title: "Sign out", CSRF: s.csrfToken(w, r)})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.checkCSRF(r); err != nil {
		s.fail(w, r, err)
		return
	}
	if sess, u, err := s.currentSession(r); err == nil {
		if err := s.store.DeleteSession(r.Context(), sess.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
		s.audit(r, store.AuditEvent{Action: accounts.AuditLogout, Actor: u.Email, UserID: u.ID, Email: u.Email, Reason: "logout page"})
	}
	s.setCookie(w, sessionCookie, "", -1)
	s.render(w, r, http.StatusOK, "loggedout", page{Title: "Signed out"})
}
