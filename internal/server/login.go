package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

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
	if err := s.checkCSRF(r); err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.decodeState(r.PostFormValue("state"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	spName := st.IdPInit
	if st.Req != nil {
		spName = st.Req.SP
	}
	email := users.NormalizeEmail(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	if email == "" || password == "" {
		s.showLogin(w, r, http.StatusBadRequest, st, spName, email, "Enter your email and password.")
		return
	}

	ipKey, acctKey := "ip:"+s.clientIP(r), "acct:"+strings.ToLower(email)
	if d := max(s.limiter.wait(ipKey), s.limiter.wait(acctKey)); d > 0 {
		// The same page for existing and unknown accounts.
		w.Header().Set("Retry-After", fmt.Sprint(int(d.Round(time.Second)/time.Second)+1))
		s.cfg.Metrics.signIn("throttled")
		s.showLogin(w, r, http.StatusTooManyRequests, st, spName, email,
			fmt.Sprintf("Too many failed sign-ins. Try again in %s.", d.Round(time.Second)))
		return
	}

	u, err := s.authenticate(r, email, password)
	if errors.Is(err, errWrongPassword) {
		s.limiter.fail(ipKey)
		s.limiter.fail(acctKey)
		s.log.InfoContext(r.Context(), "sign-in failed", "request_id", requestIDFrom(r.Context()), "reason", "bad credentials")
		s.cfg.Metrics.signIn("bad_credentials")
		s.showLogin(w, r, http.StatusUnauthorized, st, spName, email, errBadCredentials)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	s.limiter.reset(acctKey)
	if u.Disabled {
		s.log.InfoContext(r.Context(), "sign-in refused", "request_id", requestIDFrom(r.Context()), "user", u.ID, "reason", "disabled")
		s.cfg.Metrics.signIn("disabled")
		s.fail(w, r, errDisabled)
		return
	}
	sess, err := s.startSession(w, r, u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.cfg.Metrics.signIn("success")
	s.log.InfoContext(r.Context(), "sign-in succeeded", "request_id", requestIDFrom(r.Context()), "user", u.ID)

	switch {
	case st.Req != nil:
		provider, err := s.store.GetServiceProvider(r.Context(), st.Req.SP)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.answer(w, r, u, sess, st.Req, provider)
	case st.IdPInit != "":
		provider, err := s.store.GetServiceProvider(r.Context(), st.IdPInit)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.answer(w, r, u, sess, nil, provider)
	default:
		http.Redirect(w, r, "/launcher", http.StatusSeeOther)
	}
}

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
		return users.User{}, errWrongPassword
	} else if err != nil {
		return users.User{}, fmt.Errorf("look up user: %w", err)
	}
	if u.PasswordHash == "" {
		_ = s.hasher.VerifyDummy(ctx, password)
		return users.User{}, errWrongPassword
	}
	ok, rehash, err := s.hasher.Verify(ctx, u.PasswordHash, password)
	if err != nil {
		return users.User{}, fmt.Errorf("verify password of user %s: %w", u.ID, err)
	}
	if !ok {
		return users.User{}, errWrongPassword
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
	_, u, err := s.currentSession(r)
	if errors.Is(err, errNoSession) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	} else if err != nil {
		s.fail(w, r, err)
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
	s.render(w, r, http.StatusOK, "launcher", page{Title: "Your applications", CSRF: s.csrfToken(w, r), Email: u.Email, Apps: apps})
}

func (s *Server) logoutPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "logout", page{Title: "Sign out", CSRF: s.csrfToken(w, r)})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.checkCSRF(r); err != nil {
		s.fail(w, r, err)
		return
	}
	if token := s.cookie(r, sessionCookie); token != "" {
		if err := s.store.DeleteSession(r.Context(), hashToken(token)); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
	}
	s.setCookie(w, sessionCookie, "", -1)
	s.render(w, r, http.StatusOK, "loggedout", page{Title: "Signed out"})
}
