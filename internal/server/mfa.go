package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Sealer encrypts secrets at rest (keys.Sealer).
type Sealer interface {
	Seal(plain []byte) ([]byte, error)
	Open(stored []byte) ([]byte, error)
}

func (s *Server) seal(secret string) ([]byte, error) {
	if s.cfg.MFASealer == nil {
		return []byte(secret), nil
	}
	return s.cfg.MFASealer.Seal([]byte(secret))
}

func (s *Server) open(sealed []byte) (string, error) {
	if s.cfg.MFASealer == nil {
		return string(sealed), nil
	}
	plain, err := s.cfg.MFASealer.Open(sealed)
	if err != nil {
		return "", fmt.Errorf("open TOTP secret: %w", err)
	}
	return string(plain), nil
}

// mfaIssuer names flexidp in authenticator apps.
func (s *Server) mfaIssuer() string { return "flexidp " + s.cfg.BaseURL.Host }

// secondFactor runs after a verified password: it shows the code form to
// a user with a second factor, or the enrolment a role requires, and
// reports whether it did (the sign-in then continues there).
func (s *Server) secondFactor(w http.ResponseWriter, r *http.Request, in accounts.SignedIn, st loginState) bool {
	u := in.User
	step, err := s.acct.SecondStepAfter(r.Context(), in)
	if st.Console {
		step, err = s.acct.ConsoleSecondStep(r.Context(), u)
		if errors.Is(err, accounts.ErrNoConsoleAccess) {
			err = errNoConsole
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return true
	}
	if step == accounts.NoSecondStep {
		return false
	}
	st.User, st.Bind, st.Cred = u.ID, s.browserBinding(r), u.CredentialVersion
	switch step {
	case accounts.EnterCode:
		s.showMFA(w, r, http.StatusOK, u, st, "")
	case accounts.EnrolPasskey:
		s.startPasskeyEnrol(w, r, http.StatusOK, u, st, "", "")
	default:
		s.startEnrol(w, r, u, st)
	}
	return true
}

// showMFA shows the second step of u's sign-in: the factors u may use
// (accounts.Service.FactorsFor), a passkey with a new ceremony (one
// challenge per page shown), a code, or both.
func (s *Server) showMFA(w http.ResponseWriter, r *http.Request, status int, u users.User, st loginState, msg string) {
	f, err := s.acct.FactorsFor(r.Context(), u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := page{Title: "title.mfa", Error: msg, NoCode: !f.Code}
	st.Passkey = nil
	if f.Passkeys > 0 && s.acct.PasskeysAvailable() {
		c, err := s.acct.BeginPasskeySignIn(r.Context(), u)
		if err == nil {
			err = s.sealCeremony(&st, c)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p.Passkey = &passkeyView{Mode: "get", Options: string(c.Options), Action: st.prefix() + "/login/passkey"}
	}
	s.renderStep(w, r, status, "mfa", st, p)
}

// renderStep renders a page of a sign-in step (code, enrolment, passkey)
// carrying st: the sealed state, the form's CSRF token, the path prefix
// (the console's or none) and the name of the SP signed in to.
func (s *Server) renderStep(w http.ResponseWriter, r *http.Request, status int, name string, st loginState, p page) {
	state, err := s.encodeState(st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p.CSRF, p.State, p.Prefix, p.SPName = s.csrfToken(w, r), state, st.prefix(), s.spLabel(r.Context(), st.spName())
	s.render(w, r, status, name, p)
}

// startEnrol starts an enrolment of u with a new secret, carried sealed
// in st (bound to this browser, and to the pending sign-in or the
// session) and stored nowhere else until a code confirms it. Each attempt
// has its own secret: one attempt never sees another's.
func (s *Server) startEnrol(w http.ResponseWriter, r *http.Request, u users.User, st loginState) {
	key, err := mfa.NewKey(s.mfaIssuer(), u.Email)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if st.Enrol, err = s.stateKeys.seal(s.idp.Keys(), key.Secret); err != nil {
		s.fail(w, r, err)
		return
	}
	s.showEnrol(w, r, http.StatusOK, u, st, key.Secret, "")
}

// enrolSecret returns the secret of the enrolment st carries.
func (s *Server) enrolSecret(st loginState) (string, error) {
	if st.Enrol == nil {
		return "", errBadState
	}
	secret, ok, err := s.stateKeys.open(s.idp.Keys(), st.Enrol)
	if err == nil && !ok {
		err = errBadState
	}
	return secret, err
}

// showEnrol shows the QR code of the enrolment st carries (secret, in
// the clear). st.User is set during a sign-in, empty from the launcher.
func (s *Server) showEnrol(w http.ResponseWriter, r *http.Request, status int, u users.User, st loginState, secret, msg string) {
	key := mfa.KeyFromSecret(s.mfaIssuer(), u.Email, secret)
	qr, err := mfa.QRCode(key.URI)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderStep(w, r, status, "mfasetup", st, page{Title: "title.mfasetup", Error: msg, Pending: st.User != "",
		QR:     template.URL(qr), // a data:image/png URI built here, never from input
		Secret: groups(key.Secret)})
}

// groups spaces a base32 secret in fours, as people type it.
func groups(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// checkCode checks the posted second-factor code of u (see
// accounts.Service.CheckCode). It writes the refusal page itself (through
// refuse) and returns ok=false.
func (s *Server) checkCode(w http.ResponseWriter, r *http.Request, u users.User, secret string, recovery []string,
	refuse func(status int, msg string)) (method string, ok bool) {
	method, err := s.acct.CheckCode(r.Context(), u, secret, r.PostFormValue("code"), recovery, s.clientIP(r))
	if msg := s.codeRefusal(w, r, err); msg != "" {
		refuse(codeStatus(err), msg)
		return "", false
	} else if err != nil {
		s.fail(w, r, err)
		return "", false
	}
	return method, true
}

// codeRefusal is the sentence for a refused second-factor code ("" when
// err is not a refusal); a throttled one sets Retry-After.
func (s *Server) codeRefusal(w http.ResponseWriter, r *http.Request, err error) string {
	var throttled *accounts.ThrottledError
	switch {
	case errors.As(err, &throttled):
		return tr(r, "mfa.throttled", "wait", retryAfter(w, throttled.Wait))
	case errors.Is(err, accounts.ErrReplayedCode):
		return tr(r, "mfa.replayed")
	case errors.Is(err, accounts.ErrWrongCode):
		return tr(r, "mfa.wrong")
	case errors.Is(err, accounts.ErrPasskeyRequired):
		return tr(r, "passkey.required_refused")
	}
	return ""
}

// codeStatus is the HTTP status of a refused code.
func codeStatus(err error) int {
	var throttled *accounts.ThrottledError
	switch {
	case errors.As(err, &throttled):
		return http.StatusTooManyRequests
	case errors.Is(err, accounts.ErrPasskeyRequired):
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// loginMFA checks the second factor of a sign-in whose password is
// verified, then completes it.
func (s *Server) loginMFA(w http.ResponseWriter, r *http.Request) {
	st, u, ok := s.postedStep(w, r)
	if !ok {
		return
	}
	if required, err := s.acct.PasskeyRequired(r.Context(), u); err != nil {
		s.fail(w, r, err)
		return
	} else if required {
		// CheckCode refuses (and records) any code of such a user; the
		// page continues with the passkey, or its registration.
		_, err := s.acct.CheckCode(r.Context(), u, "", r.PostFormValue("code"), nil, s.clientIP(r))
		s.passkeyInstead(w, r, u, st, err)
		return
	}
	m, ok, err := s.acct.ConfirmedFactor(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		s.fail(w, r, errBadState) // reset meanwhile: start again
		return
	}
	secret, err := s.open(m.Secret)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	method, ok := s.checkCode(w, r, u, secret, m.RecoveryCodes, func(status int, msg string) { s.showMFA(w, r, status, u, st, msg) })
	if !ok {
		return
	}
	groups, ok := s.groupsFor(w, r, accounts.SignedIn{User: u}, st)
	if !ok {
		return
	}
	s.completeSignIn(w, r, u, groups, st.proven(), method)
}

// errEnrolled answers an enrolment of a user whose second factor is on.
var errEnrolled = &Error{Status: http.StatusConflict, Message: i18n.M("error.enrolled"),
	Hint: i18n.M("error.enrolled_hint", "command", "idp users reset-mfa")}

// notEnrolled returns errEnrolled if u has a confirmed second factor.
func (s *Server) notEnrolled(r *http.Request, u users.User) error {
	_, enrolled, err := s.acct.ConfirmedFactor(r.Context(), u.ID)
	if err == nil && enrolled {
		return errEnrolled
	}
	return err
}

// mfaSetupPage shows the enrolment to a signed-in user (optional MFA).
func (s *Server) mfaSetupPage(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	if err := s.notEnrolled(r, u); err != nil {
		s.fail(w, r, err)
		return
	}
	s.startEnrol(w, r, u, loginState{Bind: s.browserBinding(r), Sess: sessionBinding(sess)})
}

// enrollingUser returns the user of the enrolment st carries: the
// pending sign-in's, or the launcher session's that started it, in the
// browser it was shown to.
func (s *Server) enrollingUser(r *http.Request, st loginState) (users.User, error) {
	if st.User != "" {
		return s.pendingUser(r, st)
	}
	sess, u, err := s.currentSession(r)
	if err != nil {
		return u, err
	}
	if st.Sess == "" || subtle.ConstantTimeCompare([]byte(st.Sess), []byte(sessionBinding(sess))) != 1 ||
		subtle.ConstantTimeCompare([]byte(st.Bind), []byte(s.browserBinding(r))) != 1 {
		return users.User{}, errBadState
	}
	return u, nil
}

// mfaSetup confirms an enrolment with a first code: during a sign-in whose
// password is verified, or from the launcher (session). Only then is the
// factor stored, and only if the user has no confirmed one yet. The
// recovery codes are shown once.
func (s *Server) mfaSetup(w http.ResponseWriter, r *http.Request) {
	st, u, ok := s.postedEnrolment(w, r)
	if !ok {
		return
	}
	secret, err := s.enrolSecret(st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.notEnrolled(r, u); err != nil {
		s.fail(w, r, err)
		return
	}
	sealed, err := s.seal(secret)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	codes, err := s.acct.ConfirmTOTP(r.Context(), u, secret, sealed, r.PostFormValue("code"), s.clientIP(r))
	if errors.Is(err, accounts.ErrEnrolled) {
		err = errEnrolled
	}
	if refused := s.codeRefusal(w, r, err); refused != "" {
		s.showEnrol(w, r, codeStatus(err), u, st, secret, refused)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	state := ""
	if st.User != "" {
		// The recovery codes page continues the sign-in: its session and
		// event are committed now.
		_, v := s.enrolledSignIn(r, u, st, "totp")
		if err := s.record(w, r, v, nil, nil); err != nil {
			s.fail(w, r, err)
			return
		}
		if state, err = s.encodeState(st.proven()); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "recovery", page{Title: "title.recovery", CSRF: s.csrfToken(w, r), State: state, Prefix: st.prefix(),
		SPName: s.spLabel(r.Context(), st.spName()), Codes: codes})
}

// postedEnrolment checks the form posted to end an enrolment (a TOTP
// secret's or a passkey's) and returns its state and user (see
// enrollingUser); on failure it has answered and ok is false.
func (s *Server) postedEnrolment(w http.ResponseWriter, r *http.Request) (st loginState, u users.User, ok bool) {
	st, ok = s.postedState(w, r)
	if !ok {
		return st, u, false
	}
	u, err := s.enrollingUser(r, st)
	if errors.Is(err, errNoSession) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return st, u, false
	} else if err != nil {
		s.fail(w, r, err)
		return st, u, false
	}
	return st, u, true
}

// enrolledSignIn begins the session of the sign-in st was pending on,
// whose second step the enrolment of factor ("totp", "passkey") just
// confirmed proved, with its sign-in event: the visit commits both
// (record, or with the Response in proceed).
func (s *Server) enrolledSignIn(r *http.Request, u users.User, st loginState, factor string) (store.Session, *visit) {
	return s.beginSession(r, u, factor, store.AuditEvent{Action: accounts.AuditSignIn, Actor: u.Email, UserID: u.ID, Email: u.Email,
		SP: st.spName(), Reason: "password+" + factor + " (enrolment)"})
}

// proven is st once its second factor is proven: the sign-in it
// continues, with nothing of the pending password or enrolment.
func (st loginState) proven() loginState {
	return loginState{Req: st.Req, IdPInit: st.IdPInit, Console: st.Console}
}

// prefix is where the forms of st post: the console's own copies of the
// sign-in endpoints (which exist on its separate listener too), or the
// public ones.
func (st loginState) prefix() string {
	if st.Console {
		return consolePrefix
	}
	return ""
}

// mfaContinue resumes a sign-in after the recovery codes were shown.
func (s *Server) mfaContinue(w http.ResponseWriter, r *http.Request) {
	st, ok := s.postedState(w, r)
	if !ok {
		return
	}
	if st.User != "" {
		s.fail(w, r, errBadState)
		return
	}
	sess, u, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	groups, ok := s.groupsFor(w, r, accounts.SignedIn{User: u}, st)
	if !ok {
		return
	}
	s.proceed(w, r, u, groups, sess, st, &visit{})
}
