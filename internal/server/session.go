package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// cookieName returns name with the __Host- prefix on https: the browser
// then refuses the cookie unless it is Secure, host-only and Path=/.
func (s *Server) cookieName(name string) string {
	if s.secure {
		return "__Host-" + name
	}
	return name
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     s.cookieName(name),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
		MaxAge:   int(maxAge / time.Second),
	}
	if s.secure {
		// An SP may send the AuthnRequest by cross-site POST; the session
		// cookie must come along so a signed-in user is not prompted again.
		c.SameSite = http.SameSiteNoneMode
	}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func (s *Server) cookie(r *http.Request, name string) string {
	c, err := r.Cookie(s.cookieName(name))
	if err != nil {
		return ""
	}
	return c.Value
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing safe can be done
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how a session token is stored: a database leak does not
// give usable cookies.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

const sessionCookie = "flexidp_session"

// currentSession returns the browser's valid session and its user, or
// errNoSession. Expired sessions (absolute or idle) are deleted.
func (s *Server) currentSession(r *http.Request) (store.Session, users.User, error) {
	sess, u, _, touch, err := s.loadSession(r)
	if err == nil && touch {
		if err := s.store.TouchSession(r.Context(), sess.ID, s.now()); err != nil {
			s.log.WarnContext(r.Context(), "touch session", "err", err)
		}
	}
	return sess, u, err
}

// loadSession is currentSession without the touch: touch says that the
// session's LastSeenAt is due (at most once a minute: the idle timeout
// needs no finer grain, and a busy shift start should not turn every SSO
// into a write), which the caller writes, with the rest of its visit
// (visit.touch) or at once. The session, its user and the user's groups
// (what a Response releases) are one query.
func (s *Server) loadSession(r *http.Request) (sess store.Session, u users.User, groups []users.Group, touch bool, err error) {
	token := s.cookie(r, sessionCookie)
	if token == "" {
		return store.Session{}, users.User{}, nil, false, errNoSession
	}
	ctx := r.Context()
	sess, u, groups, err = s.store.GetSessionUser(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, users.User{}, nil, false, errNoSession
	} else if err != nil {
		return store.Session{}, users.User{}, nil, false, fmt.Errorf("load session: %w", err)
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.cfg.SessionIdle)) {
		if err := s.store.DeleteSession(ctx, sess.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.WarnContext(ctx, "delete expired session", "err", err)
		}
		return store.Session{}, users.User{}, nil, false, errNoSession
	}
	if u.Disabled {
		_, _ = s.store.DeleteUserSessions(ctx, u.ID)
		return store.Session{}, users.User{}, nil, false, errNoSession
	}
	return sess, u, groups, now.Sub(sess.LastSeenAt) > time.Minute, nil
}

// ssoSession is loadSession for an SSO Response, which commits what it
// read with its visit: a session kept in memory (sessionCache) when
// fromMemory allows and it serves without a second look, else from the
// store, kept for the next request. The visit it returns touches the
// session when due and, for a session from memory, checks in its commit
// that the session is still as read (store.Visit.Session).
func (s *Server) ssoSession(r *http.Request, fromMemory bool) (sess store.Session, u users.User, groups []users.Group, v *visit, err error) {
	if token := s.cookie(r, sessionCookie); fromMemory && token != "" {
		if e, ok := s.sessions.get(hashToken(token)); ok && s.serves(e) {
			v = s.touch(e.sess, false)
			v.base.Session = e.sess.Version()
			return e.sess, e.user, e.groups, v, nil
		}
	}
	sess, u, groups, touch, err := s.loadSession(r)
	if err != nil {
		return sess, u, groups, nil, err
	}
	v = s.touch(sess, touch)
	e := cachedSession{sess: sess, user: u, groups: groups}
	if touch {
		// Kept once the touch is written, as the store then has it: else
		// the next request would find it due again and read it anew.
		e.sess.LastSeenAt = v.base.TouchAt
		v.remember = &e
	} else {
		s.sessions.put(e)
	}
	return sess, u, groups, v, nil
}

// serves says whether a session from memory may be used without reading
// it again: not expired, not idle, its user enabled (as read: the commit
// checks that it still is), and its last-seen time not due to be touched.
func (s *Server) serves(e cachedSession) bool {
	now := s.now()
	return now.Before(e.sess.ExpiresAt) && now.Before(e.sess.LastSeenAt.Add(s.cfg.SessionIdle)) &&
		!e.user.Disabled && now.Sub(e.sess.LastSeenAt) <= time.Minute
}

// visit is what a request commits once it has decided (store.Visit,
// through accounts.Service.Record): the session it starts, ends or
// touches and its sign-in events; the Response's replay record and event
// are added by record. cookie is the token of the session it starts, set
// once the commit succeeded.
type visit struct {
	base   store.Visit
	cookie string
	// remember is kept in sessionCache once the commit succeeded.
	remember *cachedSession
}

// touch returns the visit of a request within sess that touches it when
// due.
func (s *Server) touch(sess store.Session, due bool) *visit {
	v := &visit{}
	if due {
		v.base.TouchSession, v.base.TouchAt = sess.ID, s.now()
	}
	return v
}

// record commits v with the Response's replay record (once), the version
// of the SP it was built from (spv) and its events (answer), all or
// nothing, and sets the cookie of the session it started. ErrConflict
// (wrapped) when once was already used, ErrChanged when spv is no longer
// current: nothing is written then.
func (s *Server) record(w http.ResponseWriter, r *http.Request, v *visit, once *store.Once, spv *store.SPVersion, answer ...store.AuditEvent) error {
	sv := v.base
	sv.Once, sv.SP = once, spv
	sv.Audit = append(slices.Clip(sv.Audit), answer...)
	if sv.Once == nil && sv.SP == nil && sv.Session == nil && sv.StartSession == nil && sv.EndSession == "" && sv.TouchSession == "" && len(sv.Audit) == 0 {
		return nil
	}
	if err := s.acct.Record(r.Context(), sv); err != nil {
		return err
	}
	if v.cookie != "" {
		s.setCookie(w, sessionCookie, v.cookie, s.cfg.SessionLifetime)
	}
	if v.remember != nil {
		s.sessions.put(*v.remember)
	}
	return nil
}

// signedIn returns the browser's session and user for a page that needs
// one. Without a session it sends the browser to the login page; on any
// other error it renders the error page; either way ok is false.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request) (sess store.Session, u users.User, ok bool) {
	sess, u, err := s.currentSession(r)
	switch {
	case errors.Is(err, errNoSession):
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return sess, u, false
	case err != nil:
		s.fail(w, r, err)
		return sess, u, false
	}
	return sess, u, true
}

// beginSession returns a new session of u and the visit that starts it,
// with the event signIn: nothing is stored until the visit is recorded. A
// session the browser already has (a ForceAuthn sign-in, or one as
// another user) ends in the same commit: the cookie it replaces must not
// stay valid on the server. factor is the second factor the sign-in
// proved ("totp", "recovery code", "passkey"), "" for a password alone: the admin
// console accepts only a session with one.
func (s *Server) beginSession(r *http.Request, u users.User, factor string, signIn store.AuditEvent) (store.Session, *visit) {
	token := randomToken()
	now := s.now()
	sess := store.Session{
		ID:           hashToken(token),
		UserID:       u.ID,
		Index:        "_" + randomToken()[:32],
		AuthnInstant: now,
		CreatedAt:    now,
		LastSeenAt:   now,
		ExpiresAt:    now.Add(s.cfg.SessionLifetime),
		RemoteAddr:   s.clientIP(r),
		UserAgent:    truncate(r.UserAgent(), 256),
		SecondFactor: factor,
	}
	if factor != "" {
		sess.VerifiedAt = now
	}
	v := &visit{cookie: token, base: store.Visit{StartSession: &sess, Audit: []store.AuditEvent{s.event(r, signIn)}}}
	if old := s.cookie(r, sessionCookie); old != "" {
		v.base.EndSession = hashToken(old)
	}
	return sess, v
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// clientIP is the client's address, for throttling, sessions and the
// audit trail (see clientAddr).
func (s *Server) clientIP(r *http.Request) string {
	return clientAddr(r, s.cfg.TrustProxy || len(s.cfg.TrustedProxies) > 0, s.cfg.TrustedProxies)
}

const csrfCookie = "flexidp_csrf"

// csrfToken returns the browser's CSRF token, setting a new one if it has
// none (double-submit: the form field must equal the cookie).
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if t := s.cookie(r, csrfCookie); len(t) == 43 {
		return t
	}
	t := randomToken()
	s.setCookie(w, csrfCookie, t, 12*time.Hour)
	return t
}

func (s *Server) checkCSRF(r *http.Request) error {
	if isUpload(r) {
		if err := parseUpload(r); err != nil {
			return err
		}
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err // 413, not a CSRF failure
		}
		return errCSRF
	}
	cookie := s.cookie(r, csrfCookie)
	form := r.PostFormValue("csrf")
	if cookie == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(form)) != 1 {
		return errCSRF
	}
	return nil
}

// loginState carries a pending sign-in through the login form: the
// validated AuthnRequest, or the SP of an IdP-initiated login. It is
// MACed with a key derived from the signing key, so every replica can
// check it and nobody can forge one.
type loginState struct {
	Req     *saml.Request `json:"r,omitempty"`
	IdPInit string        `json:"i,omitempty"`
	// User is set once the user's password is verified and a second
	// factor is pending (the TOTP form, or the enrolment it requires).
	User string `json:"u,omitempty"`
	// Bind ties a pending second factor to the browser that typed the
	// password: the hash of its CSRF cookie. A copied state is useless
	// elsewhere.
	Bind string `json:"b,omitempty"`
	// Cred is the user's credential version when the password was
	// checked: a password change, a second factor reset or disabling
	// since then ends the pending sign-in.
	Cred int64 `json:"c,omitempty"`
	// Enrol is the TOTP secret of an enrolment in progress, encrypted
	// (stateKeys.seal). It exists only here, in the one browser that
	// started the enrolment, until a code confirms it: nobody else can
	// see it or be shown it.
	Enrol []byte `json:"k,omitempty"`
	// Passkey is the session data of the WebAuthn ceremony this state's
	// page began (its one challenge), encrypted as Enrol is. The challenge
	// is used up when an answer is checked.
	Passkey []byte `json:"p,omitempty"`
	// Sess ties an enrolment started from the launcher to the session
	// that started it (sessionBinding).
	Sess string `json:"s,omitempty"`
	// Console is a sign-in to the admin console: it always takes a second
	// factor, and ends on the console's home page.
	Console bool `json:"a,omitempty"`
	// OIDC is a sign-in at an OpenID Provider in progress (in the cookie
	// the callback reads, bound to the browser by Bind).
	OIDC *oidcPending `json:"o,omitempty"`
	// Via is how the person proved who they are when it was not
	// flexidp's password: "oidc:<source>" (for the audit trail).
	Via string `json:"v,omitempty"`
	// Queued is when this sign-in was first answered "busy, try again"
	// (Unix milliseconds), kept while it is answered busy again: the
	// password hasher serves it before those who came since (queuedSince).
	// The state's signature is what makes it a ticket nobody can forge.
	Queued  int64 `json:"q,omitempty"`
	Expires int64 `json:"e"`
}

// loginStateTTL is how long a login form stays usable; a verified
// password waits mfaStateTTL for its second factor.
const (
	loginStateTTL = 30 * time.Minute
	mfaStateTTL   = 10 * time.Minute
)

func (s *Server) encodeState(st loginState) (string, error) {
	ttl := loginStateTTL
	if st.User != "" || st.Enrol != nil || st.Passkey != nil {
		ttl = mfaStateTTL
	}
	st.Expires = s.now().Add(ttl).Unix()
	payload, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	sig, err := s.stateKeys.sign(s.idp.Keys(), payload)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func (s *Server) decodeState(v string) (loginState, error) {
	var st loginState
	if v == "" {
		return st, nil
	}
	p, m, ok := strings.Cut(v, ".")
	if !ok {
		return st, errBadState
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	sig, err2 := base64.RawURLEncoding.DecodeString(m)
	if err1 != nil || err2 != nil {
		return st, errBadState
	}
	if ok, err := s.stateKeys.verify(s.idp.Keys(), payload, sig); err != nil {
		return st, err
	} else if !ok {
		return st, errBadState
	}
	if err := json.Unmarshal(payload, &st); err != nil || s.now().Unix() > st.Expires {
		return loginState{}, errBadState
	}
	return st, nil
}

// browserBinding is the Bind of a state issued to the browser of r: the
// hash of its CSRF cookie, which the form already requires.
func (s *Server) browserBinding(r *http.Request) string {
	return hashToken("bind\x00" + s.cookie(r, csrfCookie))[:32]
}

// sessionBinding is the Sess of an enrolment state issued to the holder
// of sess.
func sessionBinding(sess store.Session) string {
	return hashToken("enrol\x00" + sess.ID)[:32]
}

// pendingUser returns the user whose password st vouches for, if st was
// issued to this browser and the service says the user may still finish
// the sign-in (accounts.PendingUser).
func (s *Server) pendingUser(r *http.Request, st loginState) (users.User, error) {
	if st.User == "" || subtle.ConstantTimeCompare([]byte(st.Bind), []byte(s.browserBinding(r))) != 1 {
		return users.User{}, errBadState
	}
	u, err := s.acct.PendingUser(r.Context(), st.User, st.Cred)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return users.User{}, errBadState
	case errors.Is(err, accounts.ErrDisabled):
		return users.User{}, errDisabled
	case errors.Is(err, accounts.ErrCredentialsChanged):
		return users.User{}, errSignInExpired
	case err != nil:
		return users.User{}, err
	}
	return u, nil
}

// postedState checks the CSRF token of a posted form and decodes its
// login state; on failure it has answered and returns ok=false.
func (s *Server) postedState(w http.ResponseWriter, r *http.Request) (st loginState, ok bool) {
	err := s.checkCSRF(r)
	if err == nil {
		st, err = s.decodeState(r.PostFormValue("state"))
	}
	if err != nil {
		s.fail(w, r, err)
		return st, false
	}
	return st, true
}

// postedStep checks a posted sign-in step's form (postedState) and returns
// its state and the user it stands for (pendingUser); on failure it has
// answered and returns ok=false.
func (s *Server) postedStep(w http.ResponseWriter, r *http.Request) (loginState, users.User, bool) {
	st, ok := s.postedState(w, r)
	if !ok {
		return st, users.User{}, false
	}
	u, err := s.pendingUser(r, st)
	if err != nil {
		s.fail(w, r, err)
		return st, users.User{}, false
	}
	return st, u, true
}
