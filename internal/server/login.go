package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

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

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, st loginState, spName, email, msg string) {
	state, err := s.encodeState(st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "login", page{Title: "Sign in", CSRF: s.csrfToken(w, r), State: state,
		SPName: spName, Email: email, Error: msg})
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
		s.showLogin(w, r, http.StatusBadRequest, st, spName, email, "Enter your email and password.")
		return
	}

	ctx := r.Context()
	attempt, wait, err := s.admit(ctx, s.addressRule(r), s.accountRule(email))
	if err != nil {
		s.cfg.Metrics.signIn("error")
		s.fail(w, r, err)
		return
	}
	if wait > 0 {
		s.cfg.Metrics.signIn("throttled")
		// Decided before the account is looked up: the same page, status
		// and timing for existing and unknown accounts.
		s.audit(r, store.AuditEvent{Action: auditSignInFailure, Actor: email, Email: email, SP: spName, Reason: "throttled"})
		s.showLogin(w, r, http.StatusTooManyRequests, st, spName, email,
			"Too many failed sign-ins for this account or from this network. Try again in "+retryAfter(w, wait)+".")
		return
	}

	u, err := s.authenticate(r, email, password)
	var reason string
	switch {
	case errors.Is(err, errUnknownUser):
		reason = "unknown account"
	case errors.Is(err, errNoPassword):
		reason = "no password set"
	case errors.Is(err, errWrongPassword):
		reason = "wrong password"
	case errors.Is(err, users.ErrBusy):
		// Saturated: say so at once rather than hash for a browser that
		// has given up. Neither a success nor a failure.
		s.refund(ctx, attempt)
		s.cfg.Metrics.signIn("busy")
		w.Header().Set("Retry-After", "5")
		s.fail(w, r, errBusy)
		return
	case err != nil:
		s.refund(ctx, attempt)
		s.cfg.Metrics.signIn("error")
		s.fail(w, r, err)
		return
	}
	if reason != "" {
		s.failed(ctx, attempt)
		s.cfg.Metrics.signIn("bad_credentials")
		s.audit(r, store.AuditEvent{Action: auditSignInFailure, Actor: email, UserID: u.ID, Email: email, SP: spName, Reason: reason})
		if keys := lockouts(attempt); len(keys) > 0 {
			s.audit(r, store.AuditEvent{Action: auditLockout, Actor: email, UserID: u.ID, Email: email,
				Reason: "too many failed sign-ins", Details: details(map[string]any{"keys": keys, "for": s.cfg.Lockout.LockFor.String()})})
		}
		s.showLogin(w, r, http.StatusUnauthorized, st, spName, email, errBadCredentials)
		return
	}
	s.succeeded(ctx, attempt)
	if u.Disabled {
		s.cfg.Metrics.signIn("disabled")
		s.audit(r, store.AuditEvent{Action: auditSignInFailure, Actor: email, UserID: u.ID, Email: u.Email, SP: spName, Reason: "disabled"})
		s.fail(w, r, errDisabled)
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
// method, and continues where the sign-in started.
func (s *Server) completeSignIn(w http.ResponseWriter, r *http.Request, u users.User, st loginState, method string) {
	sess, err := s.startSession(w, r, u)
	if err != nil {
		s.cfg.Metrics.signIn("error")
		s.fail(w, r, err)
		return
	}
	s.cfg.Metrics.signIn("success")
	s.audit(r, store.AuditEvent{Action: auditSignIn, Actor: u.Email, UserID: u.ID, Email: u.Email, SP: st.spName(), Reason: method})
	s.proceed(w, r, u, sess, st)
}

// proceed continues a sign-in once the session exists: answer the pending
// AuthnRequest, post to the SP of an IdP-initiated login, or show the
// launcher.
func (s *Server) proceed(w http.ResponseWriter, r *http.Request, u users.User, sess store.Session, st loginState) {
	name := st.spName()
	if name == "" {
		http.Redirect(w, r, "/launcher", http.StatusSeeOther)
		return
	}
	provider, err := s.store.GetServiceProvider(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.answer(w, r, u, sess, st.Req, provider)
}

// Why authenticate refused; the person sees one message for all three.
var (
	errUnknownUser = errors.New("unknown email")
	errNoPassword  = errors.New("no password set")
)

var errWrongPassword = errors.New("wrong email or password")

// authenticate checks email and password. An unknown email costs the same
// hashing time as a known one. A correct password stored with an older
// scheme or weaker parameters is re-hashed with argon2id.
func (s *Server) authenticate(r *http.Request, email, password string) (users.User, error) {
	ctx := r.Context()
	u, err := s.store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return users.User{}, err
		}
		return users.User{}, errUnknownUser
	} else if err != nil {
		return users.User{}, fmt.Errorf("look up user: %w", err)
	}
	// On refusal only the ID is returned, for the audit trail.
	if u.PasswordHash == "" {
		_ = s.hasher.VerifyDummy(ctx, password)
		return users.User{ID: u.ID}, errNoPassword
	}
	ok, rehash, err := s.hasher.Verify(ctx, u.PasswordHash, password)
	if err != nil {
		return users.User{}, fmt.Errorf("verify password of user %s: %w", u.ID, err)
	}
	if !ok {
		return users.User{ID: u.ID}, errWrongPassword
	}
	if rehash {
		if err := s.upgradeHash(r, u, password); err != nil {
			// The sign-in stands; the upgrade is retried next time.
			s.log.WarnContext(ctx, "password hash upgrade failed", "user", u.ID, "err", err)
		}
	}
	return u, nil
}

func (s *Server) upgradeHash(r *http.Request, u users.User, password string) error {
	ctx := r.Context()
	h, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	old := u.PasswordHash
	_, err = s.store.UpdateUser(ctx, u.ID, func(cur users.User) (users.User, error) {
		if cur.PasswordHash == old { // unchanged meanwhile
			cur.PasswordHash = h
		}
		return cur, nil
	})
	if err == nil {
		s.log.InfoContext(ctx, "password hash upgraded to argon2id", "user", u.ID)
	}
	return err
}

func (s *Server) launcher(w http.ResponseWriter, r *http.Request) {
	_, u, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	all, err := s.store.ListServiceProviders(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	assigned, err := s.store.Assignments(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var apps []app
	for _, p := range all {
		if !p.AssignmentRequired || slices.Contains(assigned, p.Name) {
			apps = append(apps, app{Name: p.Name, EntityID: p.EntityID})
		}
	}
	m, err := s.store.GetMFA(r.Context(), u.ID)
	mfaOn := err == nil && !m.ConfirmedAt.IsZero()
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
		s.audit(r, store.AuditEvent{Action: auditLogout, Actor: u.Email, UserID: u.ID, Email: u.Email, Reason: "logout page"})
	}
	s.setCookie(w, sessionCookie, "", -1)
	s.render(w, r, http.StatusOK, "loggedout", page{Title: "Signed out"})
}
