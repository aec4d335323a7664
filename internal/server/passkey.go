package server

import (
	"errors"
	"net/http"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// passkeyView is the passkey ceremony a page offers: the options for
// navigator.credentials (JSON, read by /static/passkey.js from the
// button) and where the answer is posted with the page's state.
type passkeyView struct {
	// Mode is "get" (sign in) or "create" (add a passkey).
	Mode    string
	Options string
	Action  string
	// Name is the name of a passkey being added, as typed.
	Name string
}

// sealCeremony carries c's session data, sealed, in st: the one challenge
// of this attempt, bound with the rest of st to this browser.
func (s *Server) sealCeremony(st *loginState, c accounts.Ceremony) error {
	sealed, err := s.stateKeys.seal(s.idp.Keys(), string(c.Session))
	st.Passkey = sealed
	return err
}

// ceremonySession returns the session data of the ceremony st carries.
func (s *Server) ceremonySession(st loginState) ([]byte, error) {
	if st.Passkey == nil {
		return nil, errBadState
	}
	session, ok, err := s.stateKeys.open(s.idp.Keys(), st.Passkey)
	if err == nil && !ok {
		err = errBadState
	}
	return []byte(session), err
}

// passkeyRefusal is the sentence for a refused passkey step ("" when err
// is not a refusal); a throttled one sets Retry-After.
func (s *Server) passkeyRefusal(w http.ResponseWriter, r *http.Request, err error) (int, string) {
	var throttled *accounts.ThrottledError
	var e *accounts.Error
	switch {
	case errors.As(err, &throttled):
		return http.StatusTooManyRequests, tr(r, "passkey.throttled", "wait", retryAfter(w, throttled.Wait))
	case errors.As(err, &e) && e.Code == accounts.Invalid:
		return http.StatusUnauthorized, accountsRefusal(r, err)
	case errors.As(err, &e) && e.Code == accounts.Conflict:
		return http.StatusConflict, accountsRefusal(r, err)
	}
	return 0, ""
}

// passkeyInstead answers a code refused because a role of u requires a
// passkey (err, accounts.ErrPasskeyRequired): the second step again with
// the sentence, or the registration of a first passkey.
func (s *Server) passkeyInstead(w http.ResponseWriter, r *http.Request, u users.User, st loginState, err error) {
	if !errors.Is(err, accounts.ErrPasskeyRequired) {
		s.fail(w, r, err)
		return
	}
	f, err := s.acct.FactorsFor(r.Context(), u)
	switch {
	case err != nil:
		s.fail(w, r, err)
	case f.Passkeys > 0:
		s.showMFA(w, r, http.StatusForbidden, u, st, tr(r, "passkey.required_refused"))
	default:
		st.Passkey = nil
		s.startPasskeyEnrol(w, r, http.StatusForbidden, u, st, "", tr(r, "passkey.required_refused"))
	}
}

// loginPasskey checks the passkey step of a sign-in whose password is
// verified (the ceremony showMFA began), then completes it.
func (s *Server) loginPasskey(w http.ResponseWriter, r *http.Request) {
	st, u, ok := s.postedStep(w, r)
	if !ok {
		return
	}
	session, err := s.ceremonySession(st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	err = s.acct.CheckPasskey(r.Context(), u, session, []byte(r.PostFormValue("credential")), s.clientIP(r))
	if status, msg := s.passkeyRefusal(w, r, err); msg != "" {
		s.showMFA(w, r, status, u, st, msg)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	groups, ok := s.groupsFor(w, r, accounts.SignedIn{User: u}, st)
	if !ok {
		return
	}
	s.completeSignIn(w, r, u, groups, st.proven(), "passkey")
}

// startPasskeyEnrol shows the page that adds a passkey to u, with a new
// ceremony carried sealed in st (bound to this browser, and to the
// pending sign-in or to the session of the account page).
func (s *Server) startPasskeyEnrol(w http.ResponseWriter, r *http.Request, status int, u users.User, st loginState, name, msg string) {
	c, err := s.acct.BeginPasskeyRegistration(r.Context(), u)
	if err == nil {
		err = s.sealCeremony(&st, c)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderStep(w, r, status, "passkey", st, page{Title: "title.passkey", Error: msg, Pending: st.User != "",
		Passkey: &passkeyView{Mode: "create", Options: string(c.Options), Action: st.prefix() + "/passkey/setup", Name: name}})
}

// passkeySetup ends the registration startPasskeyEnrol began: during a
// sign-in whose password is verified (the sign-in then completes: the new
// passkey proved the second step), or from the account page.
func (s *Server) passkeySetup(w http.ResponseWriter, r *http.Request) {
	st, u, ok := s.postedEnrolment(w, r)
	if !ok {
		return
	}
	session, err := s.ceremonySession(st)
	if err == nil && st.User != "" {
		// A sign-in registers a passkey only when its role requires one
		// and the user has none: never in place of a passkey they have.
		var step accounts.SecondStep
		if step, err = s.acct.SecondStepFor(r.Context(), u); err == nil && step != accounts.EnrolPasskey {
			err = errBadState
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := r.PostFormValue("name")
	p, err := s.acct.AddPasskey(r.Context(), u, session, []byte(r.PostFormValue("credential")), name, s.clientIP(r))
	if status, msg := s.passkeyRefusal(w, r, err); msg != "" {
		st.Passkey = nil
		s.startPasskeyEnrol(w, r, status, u, st, name, msg)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	if st.User == "" {
		sess, u, ok := s.signedIn(w, r)
		if ok {
			s.showAccount(w, r, http.StatusOK, sess, u, "", tr(r, "account.passkey_added", "name", p.Name))
		}
		return
	}
	groups, ok := s.groupsFor(w, r, accounts.SignedIn{User: u}, st)
	if !ok {
		return
	}
	sess, v := s.enrolledSignIn(r, u, st, "passkey")
	s.proceed(w, r, u, groups, sess, st.proven(), v)
}

// addPasskey starts adding a passkey from the account page, once the
// current password is typed again: a stolen session alone cannot add a
// factor of the thief's.
func (s *Server) addPasskey(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := s.accountPost(w, r)
	if !ok {
		return
	}
	name, err := accounts.CheckPasskeyName(r.PostFormValue("name"))
	if err == nil {
		err = s.acct.VerifyPassword(r.Context(), u, r.PostFormValue("current"), s.clientIP(r), "passkey registration")
	}
	if s.accountRefusal(w, r, sess, u, err) {
		return
	}
	s.startPasskeyEnrol(w, r, http.StatusOK, u, loginState{Bind: s.browserBinding(r), Sess: sessionBinding(sess)}, name, "")
}

// removePasskey removes one of the signed-in user's passkeys
// (accounts.Service.RemovePasskey): the current password is required, or
// a passkey's answer to the ceremony the account page began (its state is
// bound to this browser and this session).
func (s *Server) removePasskey(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := s.accountPost(w, r)
	if !ok {
		return
	}
	proof := accounts.Proof{Password: r.PostFormValue("current")}
	if answer := r.PostFormValue("credential"); answer != "" {
		st, err := s.decodeState(r.PostFormValue("state"))
		if err == nil {
			_, err = s.enrollingUser(r, st) // st belongs to this browser and session
		}
		if err == nil {
			proof.Session, err = s.ceremonySession(st)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		proof.Answer = []byte(answer)
	} else if proof.Password == "" {
		s.showAccount(w, r, http.StatusBadRequest, sess, u, tr(r, "account.passkey_proof"), "")
		return
	}
	p, err := s.acct.RemovePasskey(r.Context(), u, r.PostFormValue("passkey"), proof, s.clientIP(r))
	if s.accountRefusal(w, r, sess, u, err) {
		return
	}
	s.showAccount(w, r, http.StatusOK, sess, u, "", tr(r, "account.passkey_removed", "name", p.Name))
}

// accountRefusal shows the account page with the sentence of a refused
// change and reports whether err was one (any error: it has answered).
func (s *Server) accountRefusal(w http.ResponseWriter, r *http.Request, sess store.Session, u users.User, err error) bool {
	var throttled *accounts.ThrottledError
	var e *accounts.Error
	switch {
	case err == nil:
		return false
	case errors.As(err, &throttled):
		s.showAccount(w, r, http.StatusTooManyRequests, sess, u, tr(r, "account.throttled", "wait", retryAfter(w, throttled.Wait)), "")
	case errors.Is(err, accounts.ErrWrongCurrentPassword):
		s.showAccount(w, r, http.StatusUnauthorized, sess, u, tr(r, "account.wrong_current"), "")
	case errors.Is(err, accounts.ErrDisabled):
		s.fail(w, r, errDisabled)
	case errors.Is(err, users.ErrBusy):
		retryAfter(w, busyWait(err))
		s.fail(w, r, errBusy)
	case errors.As(err, &e) && e.Code != "":
		s.showAccount(w, r, accountsStatus[e.Code], sess, u, accountsRefusal(r, err), "")
	default:
		s.fail(w, r, err)
	}
	return true
}
