package server

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/i18n"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
)

// The console's API tokens pages (owners: accounts.ManageTokens,
// sensitive): the tokens with their scopes, dates and state; create one
// (its bearer string is shown once, in the response of the POST that
// made it: the store keeps only its hash); revoke one after a
// confirmation. accounts.CreateToken and RevokeToken make every rule.

// tokenRow is one API token as listed: never its secret or hash.
type tokenRow struct {
	ID, Name  string
	Scopes    []string
	CreatedBy string
	Created   time.Time
	Expires   time.Time
	LastUsed  time.Time
	Revoked   time.Time
	Expired   bool
}

// tokenForm is the create form as sent.
type tokenForm struct {
	Name   string
	Scopes []string
	Days   string
}

// tokensView is the API tokens page.
type tokensView struct {
	Tokens []tokenRow
	// AllScopes are the scopes offered, in accounts.Scopes' order.
	AllScopes []string
	Form      tokenForm
	Error     string
	// MaxDays bounds the expiry field.
	MaxDays int
}

// tokenNewView is the response of a created token: its bearer string,
// shown this once.
type tokenNewView struct {
	Token  tokenRow
	Bearer string
}

const defaultTokenDays = int(accounts.DefaultTokenTTL / (24 * time.Hour))

func tokenRowOf(t store.APIToken, now time.Time) tokenRow {
	return tokenRow{ID: t.ID, Name: t.Name, Scopes: t.Scopes, CreatedBy: t.CreatedBy, Created: t.CreatedAt.UTC(),
		Expires: t.ExpiresAt.UTC(), LastUsed: t.LastUsedAt.UTC(), Revoked: t.RevokedAt.UTC(), Expired: !now.Before(t.ExpiresAt)}
}

// showTokens renders the list with the create form (form and msg: a
// refused creation, shown next to the form).
func (s *Server) showTokens(w http.ResponseWriter, r *http.Request, status int, form tokenForm, msg string) {
	list, err := s.acct.ListTokens(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := tokensView{Form: form, Error: msg, MaxDays: int(accounts.MaxTokenTTL / (24 * time.Hour))}
	now := s.cfg.Now()
	for _, t := range list {
		v.Tokens = append(v.Tokens, tokenRowOf(t, now))
	}
	for _, sc := range accounts.Scopes {
		v.AllScopes = append(v.AllScopes, string(sc))
	}
	s.consoleRender(w, r, status, "tokens", "API tokens", v)
}

// consoleTokens lists the API tokens.
func (s *Server) consoleTokens(w http.ResponseWriter, r *http.Request) {
	s.showTokens(w, r, http.StatusOK, tokenForm{Days: strconv.Itoa(defaultTokenDays)}, "")
}

// consoleTokenCreate creates a token and shows its bearer string once.
func (s *Server) consoleTokenCreate(w http.ResponseWriter, r *http.Request) {
	form := tokenForm{Name: strings.TrimSpace(r.PostFormValue("name")), Scopes: r.PostForm["scope"], Days: strings.TrimSpace(r.PostFormValue("days"))}
	days, err := strconv.Atoi(form.Days)
	if err != nil || days < 1 {
		s.showTokens(w, r, http.StatusBadRequest, form, "Enter the number of days the token works: a whole number, 1 or more.")
		return
	}
	n := accounts.NewToken{Name: form.Name, TTL: time.Duration(days) * 24 * time.Hour}
	for _, sc := range form.Scopes {
		n.Scopes = append(n.Scopes, accounts.Scope(sc))
	}
	t, bearer, err := s.acct.CreateToken(r.Context(), s.consoleActor(r), n)
	if err != nil {
		if code := accounts.ErrorCode(err); code == accounts.Invalid || code == accounts.Conflict {
			e := toError(err)
			s.showTokens(w, r, e.Status, form, e.Message.String())
			return
		}
		s.fail(w, r, err)
		return
	}
	// The bearer string is in this response only: no-store keeps it out
	// of the browser's cache, and no later page can show it.
	w.Header().Set("Cache-Control", "no-store")
	s.consoleRender(w, r, http.StatusOK, "tokennew", "API token "+t.Name, tokenNewView{Token: tokenRowOf(t, t.CreatedAt), Bearer: bearer})
}

// findConsoleToken returns the token id, or a 404 page (false).
func (s *Server) findConsoleToken(w http.ResponseWriter, r *http.Request) (store.APIToken, bool) {
	id := chi.URLParam(r, "id")
	list, err := s.acct.ListTokens(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return store.APIToken{}, false
	}
	if i := slices.IndexFunc(list, func(t store.APIToken) bool { return t.ID == id }); i >= 0 {
		return list[i], true
	}
	s.fail(w, r, &Error{Status: http.StatusNotFound, Message: i18n.Raw("There is no API token " + id + "."), Hint: i18n.Raw("See the list of API tokens.")})
	return store.APIToken{}, false
}

// consoleTokenRevokePage asks to confirm a revocation.
func (s *Server) consoleTokenRevokePage(w http.ResponseWriter, r *http.Request) {
	t, ok := s.findConsoleToken(w, r)
	if !ok {
		return
	}
	s.consoleRender(w, r, http.StatusOK, "tokenrevoke", "Revoke "+t.Name+"?", tokenRowOf(t, t.CreatedAt))
}

// consoleTokenRevoke revokes a token.
func (s *Server) consoleTokenRevoke(w http.ResponseWriter, r *http.Request) {
	t, ok := s.findConsoleToken(w, r)
	if !ok {
		return
	}
	if _, err := s.acct.RevokeToken(r.Context(), s.consoleActor(r), t.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	consoleDone(w, r, consolePrefix+"/tokens", "token-revoked")
}

// consoleTokenRoutes mounts the API tokens pages (accounts.ManageTokens).
func (s *Server) consoleTokenRoutes(r chi.Router) {
	r.Route("/tokens", func(r chi.Router) {
		r.Use(s.can(accounts.ManageTokens))
		r.Get("/", s.consoleTokens)
		r.Post("/", s.consoleTokenCreate)
		r.Get("/{id}/revoke", s.consoleTokenRevokePage)
		r.Post("/{id}/revoke", s.consoleTokenRevoke)
	})
}

// Checked reports whether the form had scope checked.
func (v tokensView) Checked(scope string) bool { return slices.Contains(v.Form.Scopes, scope) }
