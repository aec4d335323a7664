package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// errBadCredentials is the one message (a catalog key) for an unknown
// email and a wrong password: the page does not reveal which accounts
// exist.
const errBadCredentials = "login.bad_credentials"

// errDirectoryDown (a catalog key) is shown when the directory that
// checks the password cannot be reached: nothing is wrong with what the
// person typed.
const errDirectoryDown = "login.directory_down"

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/launcher", http.StatusSeeOther)
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.currentSession(r); err == nil {
		http.Redirect(w, r, "/launcher", http.StatusSeeOther)
		return
	}
	// ?state= is a sign-in for an SP that a language switch link carries
	// from a page answering a form (switchState): its SP request only.
	st, err := s.decodeState(r.URL.Query().Get("state"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st = loginState{Req: st.Req, IdPInit: st.IdPInit}
	s.showLogin(w, r, http.StatusOK, st, s.spLabel(r.Context(), st.spName()), "", "")
}

// showLogin renders the login form for the pending sign-in st; spLabel is
// the name people read for its SP (its display name), "" for none.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, st loginState, spLabel, email, msg string) {
	state, err := s.encodeState(st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	title := "title.login"
	if st.Console {
		title = "title.console_login"
	}
	route, err := s.acct.RouteFor(r.Context(), email)
	if err != nil {
		// The plain form still signs local accounts and directory users in.
		s.log.WarnContext(r.Context(), "login page: list sign-in sources", "err", err)
	}
	var providers []string
	if route.EmailFirst && !st.Console { // the console signs in with flexidp's or a directory's password
		formAction := []string{"'self'"}
		for _, p := range route.Providers {
			providers = append(providers, p.Name)
			if p.Origin != "" {
				formAction = append(formAction, p.Origin)
			}
		}
		// The "Continue with" forms and the email step answer with a
		// redirect to the provider: a browser follows it only if this
		// page's form-action allows the provider's origin.
		w.Header().Set("Content-Security-Policy", csp(strings.Join(formAction, " ")))
	}
	s.render(w, r, status, "login", page{Title: title, CSRF: s.csrfToken(w, r), State: state, Prefix: st.prefix(),
		SPName: spLabel, Email: email, Error: msg, EmailFirst: route.EmailFirst && email == "", Source: route.Source,
		Providers: providers})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	st, ok := s.postedState(w, r)
	if !ok {
		return
	}
	st.User, st.Bind, st.OIDC, st.Via = "", "", nil, "" // a login form never carries a verified password
	spName := st.spName()
	email := users.NormalizeEmail(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	if r.PostFormValue("step") == "email" {
		// Email first (sources are configured): now ask for the password
		// of the source that signs in this email's domain.
		status, msg := http.StatusOK, ""
		if email == "" {
			status, msg = http.StatusBadRequest, tr(r, "login.enter_email")
		} else if route, err := s.acct.RouteFor(r.Context(), email); err == nil && route.SourceKind == accounts.KindOIDC && !st.Console {
			// This domain signs in at its provider: go there.
			s.beginOIDC(w, r, st, route.Source)
			return
		}
		s.showLogin(w, r, status, st, s.spLabel(r.Context(), spName), email, msg)
		return
	}
	if email == "" || password == "" {
		s.showLogin(w, r, http.StatusBadRequest, st, s.spLabel(r.Context(), spName), email, tr(r, "login.missing"))
		return
	}

	// One told "busy" before is served before those who came since; the
	// ticket is for the busy answers only (a wrong password ends it).
	ctx := r.Context()
	queued, waited := s.queuedSince(st)
	if waited {
		ctx = users.WithQueuedSince(ctx, queued)
	}
	st.Queued = 0
	in, err := s.acct.SignIn(ctx, accounts.SignInRequest{Email: email, Password: password, Address: s.clientIP(r), SP: spName})
	var throttled *accounts.ThrottledError
	switch {
	case errors.As(err, &throttled):
		s.cfg.Metrics.signIn("throttled")
		// Decided before the account is looked up: the same page, status
		// and timing for existing and unknown accounts.
		key := "login.throttled"
		if throttled.Crowded {
			key = "login.crowded"
		}
		msg := tr(r, key, "wait", retryAfter(w, throttled.Wait))
		s.showLogin(w, r, http.StatusTooManyRequests, st, s.spLabel(r.Context(), spName), email, msg)
		return
	case errors.Is(err, accounts.ErrBadCredentials):
		s.cfg.Metrics.signIn("bad_credentials")
		s.showLogin(w, r, http.StatusUnauthorized, st, s.spLabel(r.Context(), spName), email, tr(r, errBadCredentials))
		return
	case errors.Is(err, accounts.ErrDirectoryUnavailable):
		// Not a password error: the directory that checks it is down.
		s.cfg.Metrics.signIn("directory_unavailable")
		w.Header().Set("Retry-After", "30")
		s.showLogin(w, r, http.StatusServiceUnavailable, st, s.spLabel(r.Context(), spName), email, tr(r, errDirectoryDown))
		return
	case errors.Is(err, accounts.ErrDisabled):
		s.cfg.Metrics.signIn("disabled")
		s.fail(w, r, errDisabled)
		return
	case errors.Is(err, users.ErrBusy):
		// Every hashing slot is taken and the queue would not be served
		// while this answer can still arrive: the form again, at once,
		// with the email kept and when to try again, and the time of the
		// first busy answer (a place in the queue when it comes back).
		s.cfg.Metrics.signIn("busy")
		if !waited {
			queued = s.now()
		}
		st.Queued = queued.UnixMilli()
		msg := tr(r, "login.busy", "wait", retryAfter(w, busyWait(err)))
		s.showLogin(w, r, http.StatusServiceUnavailable, st, s.spLabel(r.Context(), spName), email, msg)
		return
	case err != nil:
		s.cfg.Metrics.signIn("error")
		s.fail(w, r, err)
		return
	}
	if s.secondFactor(w, r, in, st) {
		return
	}
	groups, ok := s.groupsFor(w, r, in, st)
	if !ok {
		return
	}
	s.completeSignIn(w, r, in.User, groups, st, "")
}

// queuedTTL is how long the time of a first "busy" answer (loginState.
// Queued) gives a place in the hasher's queue: a person told to try again
// in a few seconds is back well within it.
const queuedTTL = 10 * time.Minute

// queuedSince is when sign-in st was first answered "busy", if it was and
// that is neither older than queuedTTL nor in the future (a ticket that
// is not valid is ignored: its holder asks as a newcomer).
func (s *Server) queuedSince(st loginState) (time.Time, bool) {
	if st.Queued <= 0 {
		return time.Time{}, false
	}
	t, now := time.UnixMilli(st.Queued).UTC(), s.now()
	if t.After(now) || now.Sub(t) > queuedTTL {
		return time.Time{}, false
	}
	return t, true
}

// spName is the SP a pending sign-in is for, if any.
func (st loginState) spName() string {
	if st.Req != nil {
		return st.Req.SP
	}
	return st.IdPInit
}

// completeSignIn starts the session of u, who proved who they are with
// the password and factor (a second factor, "" for none), and continues
// where the sign-in started. The session, the sign-in event and the
// Response that follows are one commit. groups are u's groups.
func (s *Server) completeSignIn(w http.ResponseWriter, r *http.Request, u users.User, groups []users.Group, st loginState, factor string) {
	method := "password"
	if st.Via != "" {
		method = st.Via
	}
	if factor != "" {
		method += "+" + factor
	}
	sess, v := s.beginSession(r, u, factor, store.AuditEvent{Action: accounts.AuditSignIn, Actor: u.Email, UserID: u.ID, Email: u.Email, SP: st.spName(), Reason: method})
	s.cfg.Metrics.signIn("success")
	s.proceed(w, r, u, groups, sess, st, v)
}

// groupsFor returns the groups of the user of sign-in st, read with the
// user (accounts.SignedIn) or now, when it ends in a Response (none for
// the console or the launcher); ok is false when a read failed and was
// answered.
func (s *Server) groupsFor(w http.ResponseWriter, r *http.Request, in accounts.SignedIn, st loginState) (groups []users.Group, ok bool) {
	if st.Console || st.spName() == "" {
		return nil, true
	}
	groups, err := s.acct.GroupsAfter(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return groups, true
}

// proceed continues a sign-in once the session is decided: answer the
// pending AuthnRequest, post to the SP of an IdP-initiated login, or show
// the launcher. v is what the sign-in still has to commit; groups are u's
// groups (what a Response releases).
func (s *Server) proceed(w http.ResponseWriter, r *http.Request, u users.User, groups []users.Group, sess store.Session, st loginState, v *visit) {
	name := st.spName()
	if st.Console || name == "" {
		if err := s.record(w, r, v, nil, nil); err != nil {
			s.fail(w, r, err)
			return
		}
		to := "/launcher"
		if st.Console {
			to = consolePrefix
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	for again := true; ; again = false {
		provider, err := s.sps.get(r.Context(), s.store, store.SPRef{Name: name})
		if err != nil {
			s.refuse(w, r, v, nil, err)
			return
		}
		if !s.answer(w, r, u, groups, sess, st.Req, provider, v) {
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
	s.render(w, r, http.StatusOK, "launcher", page{Title: "title.launcher", CSRF: s.csrfToken(w, r), Email: u.Email, Apps: apps, MFAOn: mfaOn})
}

func (s *Server) logoutPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "logout", page{Title: "title.logout", CSRF: s.csrfToken(w, r)})
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
	// The console's sign-out (on its own listener too) offers its sign-in.
	prefix := ""
	if strings.HasPrefix(r.URL.Path, consolePrefix+"/") {
		prefix = consolePrefix
	}
	s.render(w, r, http.StatusOK, "loggedout", page{Title: "title.loggedout", Prefix: prefix})
}
