package server

import (
	"net/http"
	"net/url"
	"time"

	"github.com/flexidp/flexidp/internal/i18n"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
)

// The console's Keys pages (owners: accounts.ManageKeys, sensitive): the
// signing keys with their state and expiry, add a next key, activate it
// (with the Twilio Console steps of accounts.KeyActivationSteps, which
// idp keys activate prints too, and the certificate to paste), retire.
// After a change this process reloads its keys at once (Config.KeyLoader);
// other replicas within their refresh interval.

// keyRow is one signing key as listed.
type keyRow struct {
	ID      string
	State   store.KeyState
	Created time.Time
	Expires time.Time
}

// keysView is the Keys page.
type keysView struct {
	Keys []keyRow
	// FromFiles: the keys are read from files; the console changes none.
	FromFiles bool
}

// keyView is one key's page.
type keyView struct {
	keyRow
	Certificate string
	Issuer      string
	SSOURL      string
	Steps       []string
}

var errKeysFromFiles = &Error{Status: http.StatusConflict, Message: i18n.Raw("This server signs with a key read from files (IDP_SIGNING_KEY_FILE): the console changes no key. Nothing was changed."),
	Hint: i18n.Raw("Replace the files and restart, or run flexidp with keys in the database.")}

var errNoKeySealer = &Error{Status: http.StatusServiceUnavailable, Message: i18n.Raw("This server cannot generate signing keys: it was started without its key settings. Nothing was changed."),
	Hint: i18n.Raw("Use idp keys add on a host with IDP_KEY_ENCRYPTION_KEY.")}

// keysFromFiles reports whether the server's keys come from files.
func (s *Server) keysFromFiles() bool { return s.cfg.KeyLoader != nil && !s.cfg.KeyLoader.FromStore() }

func rowOf(k store.SigningKey) keyRow {
	return keyRow{ID: k.ID, State: k.State, Created: k.CreatedAt.UTC(), Expires: accounts.KeyExpires(k)}
}

// consoleKeys lists the signing keys.
func (s *Server) consoleKeys(w http.ResponseWriter, r *http.Request) {
	list, err := s.acct.ListKeys(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := keysView{FromFiles: s.keysFromFiles()}
	for _, k := range list {
		v.Keys = append(v.Keys, rowOf(k))
	}
	s.consoleRender(w, r, http.StatusOK, "keys", "Signing keys", v)
}

// consoleKey shows one key, its certificate and, for the active key, the
// steps in the Twilio Console.
func (s *Server) consoleKey(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	list, err := s.acct.ListKeys(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, k := range list {
		if k.ID != id {
			continue
		}
		v := keyView{keyRow: rowOf(k), Certificate: string(k.CertificatePEM), Issuer: s.idp.EntityID(), SSOURL: s.idp.SSOURL()}
		if k.State == store.KeyActive {
			v.Steps = accounts.KeyActivationSteps(v.Issuer)
		}
		s.consoleRender(w, r, http.StatusOK, "key", "Signing key "+k.ID, v)
		return
	}
	s.fail(w, r, &Error{Status: http.StatusNotFound, Message: i18n.Raw("There is no signing key " + id + "."), Hint: i18n.Raw("See the list of keys.")})
}

// consoleKeyAdd generates a next key.
func (s *Server) consoleKeyAdd(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.keysFromFiles():
		s.fail(w, r, errKeysFromFiles)
		return
	case s.cfg.KeySealer == nil:
		s.fail(w, r, errNoKeySealer)
		return
	}
	if _, err := s.acct.AddKey(r.Context(), s.consoleActor(r), s.cfg.KeySealer, s.idp.EntityID()); err != nil {
		s.fail(w, r, err)
		return
	}
	s.reloadKeys(r)
	consoleDone(w, r, consolePrefix+"/keys", "key-added")
}

// consoleKeyState activates or retires a key.
func (s *Server) consoleKeyState(state store.KeyState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.keysFromFiles() {
			s.fail(w, r, errKeysFromFiles)
			return
		}
		id := chi.URLParam(r, "id")
		if _, err := s.acct.SetKeyState(r.Context(), s.consoleActor(r), id, state); err != nil {
			s.fail(w, r, err)
			return
		}
		s.reloadKeys(r)
		if state == store.KeyActive {
			consoleDone(w, r, consolePrefix+"/keys/"+url.PathEscape(id), "key-active")
			return
		}
		consoleDone(w, r, consolePrefix+"/keys", "key-retired")
	}
}

// reloadKeys makes this process use the keys as they are now; a failure
// is logged (the change is made; the periodic reload retries).
func (s *Server) reloadKeys(r *http.Request) {
	if s.cfg.KeyLoader == nil {
		return
	}
	if err := s.cfg.KeyLoader.Reload(r.Context()); err != nil {
		s.log.WarnContext(r.Context(), "reload signing keys after a console change", "err", err)
	}
}

// consoleKeyRoutes mounts the Keys pages (accounts.ManageKeys).
func (s *Server) consoleKeyRoutes(r chi.Router) {
	r.Route("/keys", func(r chi.Router) {
		r.Use(s.can(accounts.ManageKeys))
		r.Get("/", s.consoleKeys)
		r.Post("/", s.consoleKeyAdd)
		r.Get("/{id}", s.consoleKey)
		r.Post("/{id}/activate", s.consoleKeyState(store.KeyActive))
		r.Post("/{id}/retire", s.consoleKeyState(store.KeyRetired))
	})
}
