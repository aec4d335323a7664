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

// accountView is what the account page shows about the signed-in user.
type accountView struct {
	User     users.User
	Name     string
	Roles    string
	MFAOn    bool
	TwoStep  string
	Sessions []sessionView
	Releases []accounts.Release
	// Passkeys are the user's; PasskeyRequired: a role requires one;
	// PasskeysOff: the server cannot use passkeys (its base URL).
	Passkeys        []store.Passkey
	PasskeyRequired bool
	PasskeysOff     bool
	// Notice reports the change just made.
	Notice string
}

// sessionView is one of the user's sessions; Current is the browser's.
type sessionView struct {
	store.Session
	Current bool
}

// account shows the account page.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	s.showAccount(w, r, http.StatusOK, sess, u, "", "")
}

// showAccount renders the account page of u (signed in with sess), with
// an error (msg) or a notice of the change just made.
func (s *Server) showAccount(w http.ResponseWriter, r *http.Request, status int, sess store.Session, u users.User, msg, notice string) {
	ctx := r.Context()
	v := &accountView{User: u, Name: u.DisplayName(), Roles: strings.Join(u.Roles, ", "), Notice: notice}
	m, on, err := s.acct.ConfirmedFactor(ctx, u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.MFAOn, v.TwoStep = on, tr(r, "account.twostep_off")
	if on {
		v.TwoStep = tr(r, "account.twostep_on", "date", m.ConfirmedAt.UTC().Format(time.DateOnly), "count", len(m.RecoveryCodes))
	}
	if v.Passkeys, err = s.acct.Passkeys(ctx, u); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.PasskeyRequired, err = s.acct.PasskeyRequired(ctx, u); err != nil {
		s.fail(w, r, err)
		return
	}
	v.PasskeysOff = !s.acct.PasskeysAvailable()
	p := page{Title: "title.account", CSRF: s.csrfToken(w, r), Email: u.Email, Error: msg, Account: v}
	if len(v.Passkeys) > 0 && !v.PasskeysOff {
		// A passkey can confirm a removal instead of the password: a
		// ceremony bound to this browser and session, one per page shown.
		st := loginState{Bind: s.browserBinding(r), Sess: sessionBinding(sess)}
		c, err := s.acct.BeginPasskeySignIn(ctx, u)
		if err == nil {
			err = s.sealCeremony(&st, c)
		}
		if err == nil {
			p.State, err = s.encodeState(st)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p.Passkey = &passkeyView{Mode: "get", Options: string(c.Options), Action: "/account/passkeys/remove"}
	}
	list, err := s.store.ListSessions(ctx, u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, x := range list {
		v.Sessions = append(v.Sessions, sessionView{Session: x, Current: x.ID == sess.ID})
	}
	if v.Releases, err = s.acct.Releases(ctx, u); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(v.Releases) > 0 { // the roles the user's groups give too
		v.Roles = strings.Join(v.Releases[0].Profile.User.Roles, ", ")
	}
	s.render(w, r, status, "account", p)
}

// accountPost checks the CSRF token and the session of a form posted from
// the account page; on failure it has answered and ok is false.
func (s *Server) accountPost(w http.ResponseWriter, r *http.Request) (sess store.Session, u users.User, ok bool) {
	if err := s.checkCSRF(r); err != nil {
		s.fail(w, r, err)
		return sess, u, false
	}
	return s.signedIn(w, r)
}

// changePassword changes the signed-in user's password
// (accounts.Service.ChangePassword): the current password is required and
// throttled like a sign-in; the other sessions end, this one stays.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := s.accountPost(w, r)
	if !ok {
		return
	}
	current, next := r.PostFormValue("current"), r.PostFormValue("password")
	if current == "" || next == "" {
		s.showAccount(w, r, http.StatusBadRequest, sess, u, tr(r, "account.enter_both"), "")
		return
	}
	if next != r.PostFormValue("confirm") {
		s.showAccount(w, r, http.StatusBadRequest, sess, u, tr(r, "account.differ"), "")
		return
	}
	ended, err := s.acct.ChangePassword(r.Context(), u, current, next, sess.ID, s.clientIP(r))
	var throttled *accounts.ThrottledError
	var ve *users.ValidationError
	switch {
	case errors.As(err, &throttled):
		s.showAccount(w, r, http.StatusTooManyRequests, sess, u,
			tr(r, "account.throttled", "wait", retryAfter(w, throttled.Wait)), "")
	case errors.Is(err, accounts.ErrWrongCurrentPassword):
		s.showAccount(w, r, http.StatusUnauthorized, sess, u, accountsRefusal(r, err), "")
	case errors.As(err, &ve):
		s.showAccount(w, r, http.StatusBadRequest, sess, u, policyRefusal(r, ve), "")
	case errors.Is(err, accounts.ErrDisabled):
		s.fail(w, r, errDisabled)
	case errors.Is(err, users.ErrBusy):
		retryAfter(w, busyWait(err))
		s.fail(w, r, errBusy)
	case accounts.ErrorCode(err) == accounts.Conflict || accounts.ErrorCode(err) == accounts.Invalid:
		s.showAccount(w, r, http.StatusConflict, sess, u, accountsRefusal(r, err), "")
	case err != nil:
		s.fail(w, r, err)
	default:
		s.showAccount(w, r, http.StatusOK, sess, u, "", tr(r, "account.changed")+" "+signedOutElsewhere(r, ended))
	}
}

// signedOutElsewhere says how many other sessions ended.
func signedOutElsewhere(r *http.Request, n int) string {
	if n == 0 {
		return tr(r, "account.ended_none")
	}
	return tr(r, "account.ended", "count", n)
}

// accountsRefusal is the sentence of a refusal from the accounts
// service, in the reader's language: its catalog key, or, for an error
// that has none (not one an agent meets), a general refusal.
func accountsRefusal(r *http.Request, err error) string {
	var e *accounts.Error
	if errors.As(err, &e) && e.Key != "" {
		return tr(r, e.Key, e.Args...)
	}
	return tr(r, "error.refused")
}

// policyRefusal is the sentence of a password the policy refuses.
func policyRefusal(r *http.Request, ve *users.ValidationError) string {
	if ve.Key != "" {
		return tr(r, ve.Key, ve.Args...)
	}
	return tr(r, "error.refused")
}

// signOutOthers ends every session of the user but this browser's.
func (s *Server) signOutOthers(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := s.accountPost(w, r)
	if !ok {
		return
	}
	n, err := s.acct.SignOutOthers(r.Context(), u, sess.ID, s.clientIP(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.showAccount(w, r, http.StatusOK, sess, u, "", signedOutElsewhere(r, n))
}

// newRecoveryCodes replaces the user's recovery codes after a code of
// their second factor, and shows the new ones once.
func (s *Server) newRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := s.accountPost(w, r)
	if !ok {
		return
	}
	m, on, err := s.acct.ConfirmedFactor(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !on {
		s.showAccount(w, r, http.StatusConflict, sess, u, accountsRefusal(r, accounts.ErrNoTwoStep), "")
		return
	}
	secret, err := s.open(m.Secret)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	codes, err := s.acct.NewRecoveryCodes(r.Context(), u, secret, strings.TrimSpace(r.PostFormValue("code")), s.clientIP(r))
	if refused := s.codeRefusal(w, r, err); refused != "" {
		s.showAccount(w, r, codeStatus(err), sess, u, refused, "")
		return
	} else if errors.Is(err, accounts.ErrNoTwoStep) {
		s.showAccount(w, r, http.StatusConflict, sess, u, accountsRefusal(r, err), "")
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "recovery", page{Title: "title.recovery", CSRF: s.csrfToken(w, r), Codes: codes})
}
