package server

// The admin console: the pages admins use to run flexidp from a browser,
// under /admin on the main listener or alone on IDP_ADMIN_LISTEN
// (ConsoleHandler). Every rule is an internal/accounts function; these
// handlers only turn forms into calls and results into pages.
//
// Adding a page (consoleusers.go is a complete example):
//
//  1. Template web/templates/console/NAME.html defining "content"; it
//     renders inside base.html under the console's navigation
//     (console/frame.html). Add NAME to consolePageNames. The page's data
//     is .Console.Data; every form carries {{$.CSRF}} as the "csrf" field
//     and posts to an /admin/... path. No inline script or style (CSP).
//  2. Handlers in a file internal/server/consoleNAME.go:
//     consoleFrom(r).user is the signed-in console user and
//     s.consoleActor(r) the actor to pass to accounts (it audits);
//     s.consoleRender(w, r, status, "NAME", "Title", data) shows the page;
//     s.fail(w, r, err) shows an error page: accounts.Error codes become
//     400/404/409/503 with their sentence (toError), errConsoleForbidden
//     is the 403. To show a refusal next to its field instead, render the
//     page again with toError(err).Message and accounts.FieldOf(err).
//  3. Routes in a func (s *Server) consoleNAMERoutes(r chi.Router), called
//     from the signed-in group in consoleRoutes; each route names the
//     permission it needs: r.With(s.can(accounts.ManageKeys)).Get("/keys", …).
//     Every POST there is already CSRF- and origin-checked; a POST behind a
//     sensitive permission (accounts.Sensitive: keys, SPs, API tokens, console roles)
//     goes to /admin/verify first when the last proof is older than
//     accounts.ReverifyAfter, and comes back to the page it was sent from;
//     s.fresh does the same for any other route.
//  4. An entry in consoleNav (path, label, the permission that shows it).
//  5. After a change, redirect (303) to the page with ?done=KEY, KEY in
//     consoleNotices (consoleDone); a secret shown once (a link) is
//     rendered in the POST's own response and stored nowhere for a later
//     page.

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/flexidp/flexidp/internal/i18n"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// consolePrefix is where the console lives, on either listener.
const consolePrefix = "/admin"

// consolePageNames are the console's templates, web/templates/console/NAME.html.
var consolePageNames = []string{"home", "verify", "users", "user", "usernew", "link",
	"import", "importjob", "sps", "sp", "spremove", "keys", "key", "audit", "groups", "group",
	"tokens", "tokennew", "tokenrevoke"}

// consoleFuncs are the console templates' functions.
var consoleFuncs = template.FuncMap{
	"inc": func(i int) int { return i + 1 },
}

// consoleNav is the console's navigation, in order; an entry shows to the
// roles that hold its permission.
var consoleNav = []struct {
	Path, Label string
	Need        accounts.Permission
}{
	{consolePrefix, "Home", accounts.ReadUsers},
	{consolePrefix + "/users", "Users", accounts.ReadUsers},
	{consolePrefix + "/groups", "Groups", accounts.ReadUsers},
	{consolePrefix + "/import", "Import", accounts.ImportExport},
	{consolePrefix + "/sps", "Service providers", accounts.ManageSPs},
	{consolePrefix + "/keys", "Keys", accounts.ManageKeys},
	{consolePrefix + "/tokens", "API tokens", accounts.ManageTokens},
	{consolePrefix + "/audit", "Audit log", accounts.ReadAudit},
}

// consoleNotices are the sentences a page shows after a change, by the
// key the change's redirect carries (?done=KEY): a URL cannot put words
// of its own on a console page.
var consoleNotices = map[string]string{
	"created":       "The user is created.",
	"saved":         "Saved.",
	"roles":         "The roles are saved.",
	"attributes":    "The Flex attributes are saved.",
	"disabled":      "The user is disabled and signed out everywhere.",
	"enabled":       "The user is enabled.",
	"unlocked":      "The account is unlocked.",
	"mfa-reset":     "Two-step verification is reset: the user sets it up again at the next sign-in.",
	"revoked":       "The session is signed out.",
	"revoked-all":   "Every session of the user is signed out.",
	"granted":       "The console role is saved.",
	"deleted":       "The user is deleted.",
	"bulk":          "The selected users are changed.",
	"sp-added":      "The service provider is added.",
	"sp-saved":      "The service provider's settings are saved.",
	"sp-removed":    "The service provider is removed, with its assignments.",
	"assigned":      "The user is assigned.",
	"unassigned":    "The assignment is removed.",
	"key-added":     "A next key is added: it is published in the metadata, and does not sign yet.",
	"key-active":    "The key is now active and signs every Response. Do the steps below in the Twilio Console now.",
	"key-retired":   "The key is retired: it is no longer published.",
	"group-created": "The group is created. Add its members below.",
	"group-members": "The members are saved; they receive the group's roles and attributes at their next sign-in.",
	"group-deleted": "The group is deleted; its members no longer receive what it gave them.",
	"token-revoked": "The API token is revoked: it no longer authenticates.",
}

var (
	errNoConsole = &Error{Status: http.StatusForbidden, Message: i18n.Raw("Your account has no access to the admin console."),
		Hint: i18n.Raw("A console owner can grant it in the console, or with idp users grant --email EMAIL --console viewer|manager|owner.")}
	errConsoleForbidden = &Error{Status: http.StatusForbidden, Message: i18n.Raw("Your console role does not allow this. Nothing was changed."),
		Hint: i18n.Raw("Ask a console owner if you need it.")}
	errCrossOrigin = &Error{Status: http.StatusForbidden, Message: i18n.Raw("This form was not sent from the console's own pages. Nothing was changed."),
		Hint: i18n.Raw("Reload the page and try again.")}
)

// consoleUser is the signed-in console user of a request.
type consoleUser struct {
	sess store.Session
	user users.User
}

// consoleActor is who the audit trail names for a change made in the
// console: the signed-in console user, from their address.
func (s *Server) consoleActor(r *http.Request) accounts.Actor {
	return accounts.Actor{Name: consoleFrom(r).user.Email, Address: s.clientIP(r)}
}

type consoleKey struct{}

// consoleFrom returns the console user of a request that passed
// consoleSession.
func consoleFrom(r *http.Request) *consoleUser {
	c, _ := r.Context().Value(consoleKey{}).(*consoleUser)
	return c
}

// consoleView is the console's frame around a page.
type consoleView struct {
	Me     users.User
	Nav    []consoleLink
	Notice string
	// Data is the page's own.
	Data any
}

type consoleLink struct {
	Path, Label string
	Current     bool
}

// ConsoleHandler returns the admin console alone, for its own listener
// (IDP_ADMIN_LISTEN, with Config.ConsoleSeparate so that Handler no
// longer serves it): the console under /admin, the static files it uses,
// and / sending to /admin.
func (s *Server) ConsoleHandler() http.Handler {
	r := chi.NewRouter()
	s.frame(r)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, consolePrefix, http.StatusSeeOther)
	})
	r.Route(consolePrefix, s.consoleRoutes)
	return r
}

// consoleRoutes mounts the console under consolePrefix.
func (s *Server) consoleRoutes(r chi.Router) {
	r.Use(s.consoleOrigin)
	// The console's own copies of the sign-in endpoints: the same
	// handlers, with a state that says Console (always a second factor).
	r.Get("/login", s.consoleLoginPage)
	s.signInRoutes(r)
	r.Group(func(r chi.Router) {
		r.Use(s.consoleSession)
		r.Get("/", s.consoleHome)
		r.Get("/verify", s.consoleVerifyPage)
		r.Post("/verify", s.consoleVerify)
		s.consoleUserRoutes(r)
		s.consoleImportRoutes(r)
		s.consoleSPRoutes(r)
		s.consoleKeyRoutes(r)
		s.consoleAuditRoutes(r)
		s.consoleGroupRoutes(r)
		s.consoleTokenRoutes(r)
	})
}

// consoleOrigin sets the console's referrer policy and refuses a POST
// that a browser did not send from a page of this origin: Sec-Fetch-Site
// when the browser sends it, else Origin, else Referer; a POST with none
// of them is refused too (every browser sends one). The CSRF token is
// checked as well (consoleSession, postedState).
func (s *Server) consoleOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Same-origin requests carry the Referer (and a real Origin):
		// what this check and the re-verify page's way back read.
		w.Header().Set("Referrer-Policy", "same-origin")
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
			s.fail(w, r, errCrossOrigin)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether the browser says r comes from a page of the
// host it is sent to.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	from := r.Header.Get("Origin")
	if from == "" || from == "null" {
		from = r.Header.Get("Referer")
	}
	u, err := url.Parse(from)
	return err == nil && from != "" && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// consoleSession admits a request of a console user: a session whose
// sign-in proved a second factor, of a user whose console role (read on
// every request: a revoked role ends access at once) lets them in. A
// POST must carry the form's CSRF token.
func (s *Server) consoleSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, err := s.currentSession(r)
		switch {
		case errors.Is(err, errNoSession) || err == nil && sess.SecondFactor == "":
			// A password-only session (a Flex sign-in) does not open the
			// console: its sign-in takes the second factor.
			http.Redirect(w, r, consolePrefix+"/login", http.StatusSeeOther)
			return
		case err != nil:
			s.fail(w, r, err)
			return
		case !accounts.Allows(u.ConsoleRole, accounts.ReadUsers):
			s.fail(w, r, errNoConsole)
			return
		}
		if isImportUpload(r) && !accounts.Allows(u.ConsoleRole, accounts.ImportExport) {
			// Refused before its body (up to maxImportUpload) is read.
			s.fail(w, r, errConsoleForbidden)
			return
		}
		if r.Method == http.MethodPost {
			if err := s.checkCSRF(r); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		ctx := context.WithValue(r.Context(), consoleKey{}, &consoleUser{sess: sess, user: u})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// can admits a console user whose role allows p (403 otherwise, nothing
// done); a POST guarded by a sensitive permission also needs a recent
// proof of who they are (fresh).
func (s *Server) can(p accounts.Permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !accounts.Allows(consoleFrom(r).user.ConsoleRole, p) {
				s.fail(w, r, errConsoleForbidden)
				return
			}
			if r.Method == http.MethodPost && accounts.Sensitive(p) {
				s.fresh(next).ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// fresh sends a console user whose last proof of who they are is older
// than accounts.ReverifyAfter to the re-verify page, which brings them
// back to the page they came from; nothing is done meanwhile.
func (s *Server) fresh(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.acct.NeedsReverify(consoleFrom(r).sess.VerifiedAt) {
			http.Redirect(w, r, consolePrefix+"/verify?next="+url.QueryEscape(consoleBack(r)), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// consoleBack is the console page r was sent from (its Referer, same
// origin under the console), or the console's home.
func consoleBack(r *http.Request) string {
	if u, err := url.Parse(r.Header.Get("Referer")); err == nil && strings.EqualFold(u.Host, r.Host) {
		if next := consoleNext(u.RequestURI()); next != "" {
			return next
		}
	}
	return consolePrefix
}

// consoleNext returns next if it is a path of the console (never another
// site: no scheme, no host, no "//"), else "".
func consoleNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") ||
		(u.Path != consolePrefix && !strings.HasPrefix(u.Path, consolePrefix+"/")) {
		return ""
	}
	return u.RequestURI()
}

// consoleRender renders the console page name with its frame.
func (s *Server) consoleRender(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	c := consoleFrom(r)
	v := &consoleView{Me: c.user, Notice: consoleNotices[r.URL.Query().Get("done")], Data: data}
	for _, n := range consoleNav {
		if accounts.Allows(c.user.ConsoleRole, n.Need) {
			current := r.URL.Path == n.Path || n.Path != consolePrefix && strings.HasPrefix(r.URL.Path, n.Path+"/")
			v.Nav = append(v.Nav, consoleLink{Path: n.Path, Label: n.Label, Current: current})
		}
	}
	s.render(w, r, status, "console/"+name, page{Title: title, CSRF: s.csrfToken(w, r), Console: v})
}

// consoleDone redirects after a change to path with the notice key.
func consoleDone(w http.ResponseWriter, r *http.Request, path, key string) {
	http.Redirect(w, r, path+"?done="+url.QueryEscape(key), http.StatusSeeOther)
}

// consoleLoginPage shows the console's sign-in: password, then always a
// second factor (enrolled now if the user has none).
func (s *Server) consoleLoginPage(w http.ResponseWriter, r *http.Request) {
	if sess, u, err := s.currentSession(r); err == nil && sess.SecondFactor != "" && accounts.Allows(u.ConsoleRole, accounts.ReadUsers) {
		http.Redirect(w, r, consolePrefix, http.StatusSeeOther)
		return
	}
	s.showLogin(w, r, http.StatusOK, loginState{Console: true}, "", "", "")
}

// verifyView is the re-verify page.
type verifyView struct {
	Next  string
	Error string
	MFAOn bool
}

// consoleVerifyPage asks the console user to prove again who they are
// (password or a code) before a sensitive action.
func (s *Server) consoleVerifyPage(w http.ResponseWriter, r *http.Request) {
	s.showVerify(w, r, http.StatusOK, consoleNext(r.URL.Query().Get("next")), "")
}

func (s *Server) showVerify(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	if next == "" {
		next = consolePrefix
	}
	_, on, err := s.acct.ConfirmedFactor(r.Context(), consoleFrom(r).user.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.consoleRender(w, r, status, "verify", "Confirm it is you", verifyView{Next: next, Error: msg, MFAOn: on})
}

// consoleVerify checks the password or a second-factor code (throttled
// and audited as at sign-in), records the proof on the session, and goes
// back to the page of the action.
func (s *Server) consoleVerify(w http.ResponseWriter, r *http.Request) {
	c := consoleFrom(r)
	next := consoleNext(r.PostFormValue("next"))
	refuse := func(status int, msg string) { s.showVerify(w, r, status, next, msg) }
	method := ""
	if code := strings.TrimSpace(r.PostFormValue("code")); code != "" {
		m, on, err := s.acct.ConfirmedFactor(r.Context(), c.user.ID)
		if err != nil || !on {
			refuse(http.StatusBadRequest, "Two-step verification is not set up for your account: use your password.")
			return
		}
		secret, err := s.open(m.Secret)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var ok bool
		if method, ok = s.checkCode(w, r, c.user, secret, m.RecoveryCodes, refuse); !ok {
			return
		}
	} else {
		password := r.PostFormValue("password")
		if password == "" {
			refuse(http.StatusBadRequest, "Enter your password or a code from your authenticator app.")
			return
		}
		u, err := s.acct.SignIn(r.Context(), accounts.SignInRequest{Email: c.user.Email, Password: password, Address: s.clientIP(r)})
		var throttled *accounts.ThrottledError
		switch {
		case errors.As(err, &throttled):
			refuse(http.StatusTooManyRequests, "Too many wrong passwords for this account. Try again in "+retryAfter(w, throttled.Wait).String()+".")
			return
		case errors.Is(err, accounts.ErrBadCredentials):
			refuse(http.StatusUnauthorized, "That password is not right.")
			return
		case err != nil:
			s.fail(w, r, err)
			return
		case u.ID != c.user.ID:
			s.fail(w, r, errBadState)
			return
		}
		method = "password"
	}
	if err := s.store.VerifySession(r.Context(), c.sess.ID, s.now()); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, store.AuditEvent{Action: accounts.AuditConsoleVerify, Actor: c.user.Email, UserID: c.user.ID, Email: c.user.Email, Reason: method})
	if next == "" {
		next = consolePrefix
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}
