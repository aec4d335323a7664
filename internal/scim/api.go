package scim

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
)

// The admin JSON API: what SCIM does not cover (service providers, the
// signing keys, the audit trail, a user's release preview), on the same
// service functions as the CLI and the console. Described by
// openapi.json, which TestOpenAPIDescribesEveryRoute holds to the router.

//go:embed openapi.json
var openAPI []byte

// API returns the admin JSON API router, to be mounted at APIPrefix.
func (h *Handler) API() http.Handler {
	r := chi.NewRouter()
	r.Use(h.recoverWith(writeAPIError), h.limit)
	r.Get("/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	r.Group(func(r chi.Router) {
		r.Use(h.authenticate(writeAPIError, ""))
		r.With(h.scope(accounts.ScopeSP)).Get("/service-providers", h.listSPs)
		r.With(h.scope(accounts.ScopeSP)).Post("/service-providers", h.createSP)
		r.With(h.scope(accounts.ScopeSP)).Get("/service-providers/{name}", h.getSP)
		r.With(h.scope(accounts.ScopeSP)).Put("/service-providers/{name}", h.replaceSP)
		r.With(h.scope(accounts.ScopeSP)).Delete("/service-providers/{name}", h.deleteSP)
		r.With(h.scope(accounts.ScopeSP)).Get("/keys", h.listKeys)
		r.With(h.scope(accounts.ScopeAuditRead)).Get("/audit", h.searchAudit)
		r.With(h.scope(accounts.ScopeUsersRead)).Get("/users/{user}/preview", h.preview)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, &Error{Status: http.StatusNotFound, Detail: "There is no API endpoint at this address."})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, &Error{Status: http.StatusMethodNotAllowed, Detail: "This endpoint does not accept this method."})
	})
	return r
}

// apiError is the JSON error of the admin API.
type apiError struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

func writeAPIError(w http.ResponseWriter, e *Error) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="flexidp"`)
	}
	writeJSON(w, "application/json", e.Status, apiError{Status: e.Status, Error: e.Detail})
}

func (h *Handler) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	writeAPIError(w, h.problem(r.Context(), err))
}

// scope refuses, with 403, a token without s.
func (h *Handler) scope(s accounts.Scope) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, _ := r.Context().Value(tokenKey{}).(store.APIToken)
			if err := accounts.RequireScope(tok, s); err != nil {
				h.apiFail(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// spJSON is a service provider in the API.
type spJSON struct {
	Name                  string            `json:"name"`
	DisplayName           string            `json:"display_name"`
	EntityID              string            `json:"entity_id"`
	ACSURLs               []string          `json:"acs_urls"`
	DefaultRedirectURL    string            `json:"default_redirect_url"`
	SessionNotOnOrAfter   int64             `json:"session_not_on_or_after_seconds"`
	SLOURL                string            `json:"slo_url"`
	SigningCertificatePEM string            `json:"signing_certificate_pem"`
	AllowUnsignedRequests bool              `json:"allow_unsigned_requests"`
	AssignmentRequired    bool              `json:"assignment_required"`
	Policy                attributes.Policy `json:"policy"`
	CreatedAt             *time.Time        `json:"created_at,omitempty"`
	UpdatedAt             *time.Time        `json:"updated_at,omitempty"`
}

func toSPJSON(p sp.ServiceProvider) spJSON {
	out := spJSON{Name: p.Name, DisplayName: p.DisplayName, EntityID: p.EntityID, ACSURLs: p.ACSURLs, DefaultRedirectURL: p.DefaultRedirectURL,
		SessionNotOnOrAfter: int64(p.SessionNotOnOrAfter / time.Second), SLOURL: p.SLOURL, SigningCertificatePEM: p.SigningCertificatePEM,
		AllowUnsignedRequests: p.AllowUnsignedRequests, AssignmentRequired: p.AssignmentRequired, Policy: p.Policy,
		CreatedAt: &p.CreatedAt, UpdatedAt: &p.UpdatedAt}
	if out.ACSURLs == nil {
		out.ACSURLs = []string{}
	}
	return out
}

// apply writes j onto p (all but the name and the times).
func (j spJSON) apply(p *sp.ServiceProvider) {
	p.DisplayName, p.EntityID, p.ACSURLs, p.DefaultRedirectURL = j.DisplayName, j.EntityID, j.ACSURLs, j.DefaultRedirectURL
	p.SessionNotOnOrAfter, p.SLOURL, p.SigningCertificatePEM = time.Duration(j.SessionNotOnOrAfter)*time.Second, j.SLOURL, j.SigningCertificatePEM
	p.AllowUnsignedRequests, p.AssignmentRequired, p.Policy = j.AllowUnsignedRequests, j.AssignmentRequired, j.Policy
}

func writeAPI(w http.ResponseWriter, status int, v any) { writeJSON(w, "application/json", status, v) }

func (h *Handler) listSPs(w http.ResponseWriter, r *http.Request) {
	list, err := h.acct.ListSPs(r.Context())
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	out := make([]spJSON, len(list))
	for i, p := range list {
		out[i] = toSPJSON(p)
	}
	writeAPI(w, http.StatusOK, map[string]any{"service_providers": out})
}

func (h *Handler) getSP(w http.ResponseWriter, r *http.Request) {
	p, err := h.acct.GetSP(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	writeAPI(w, http.StatusOK, toSPJSON(p))
}

func (h *Handler) createSP(w http.ResponseWriter, r *http.Request) {
	var j spJSON
	if err := decode(r, &j); err != nil {
		h.apiFail(w, r, err)
		return
	}
	p := sp.ServiceProvider{Name: j.Name}
	j.apply(&p)
	if _, err := h.acct.CreateSP(r.Context(), h.actor(r), p); err != nil {
		h.apiFail(w, r, err)
		return
	}
	h.respondSP(w, r, http.StatusCreated, p.Name)
}

func (h *Handler) respondSP(w http.ResponseWriter, r *http.Request, status int, name string) {
	p, err := h.acct.GetSP(r.Context(), name)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	writeAPI(w, status, toSPJSON(p))
}

func (h *Handler) replaceSP(w http.ResponseWriter, r *http.Request) {
	var j spJSON
	if err := decode(r, &j); err != nil {
		h.apiFail(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	if j.Name != "" && j.Name != name {
		h.apiFail(w, r, &Error{Status: http.StatusBadRequest, Detail: "The name of a service provider cannot change."})
		return
	}
	if _, err := h.acct.UpdateSP(r.Context(), h.actor(r), name, func(p *sp.ServiceProvider) error {
		j.apply(p)
		return nil
	}); err != nil {
		h.apiFail(w, r, err)
		return
	}
	h.respondSP(w, r, http.StatusOK, name)
}

func (h *Handler) deleteSP(w http.ResponseWriter, r *http.Request) {
	if err := h.acct.RemoveSP(r.Context(), h.actor(r), chi.URLParam(r, "name")); err != nil {
		h.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// keyJSON is a signing key in the API: never its private key.
type keyJSON struct {
	ID             string    `json:"id"`
	State          string    `json:"state"`
	CertificatePEM string    `json:"certificate_pem"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) {
	list, err := h.acct.ListKeys(r.Context())
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	out := make([]keyJSON, len(list))
	for i, k := range list {
		out[i] = keyJSON{ID: k.ID, State: string(k.State), CertificatePEM: string(k.CertificatePEM), CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt}
	}
	writeAPI(w, http.StatusOK, map[string]any{"keys": out})
}

// auditJSON is an audit event in the API.
type auditJSON struct {
	ID         int64          `json:"id"`
	Time       time.Time      `json:"time"`
	Action     string         `json:"action"`
	Actor      string         `json:"actor"`
	UserID     string         `json:"user_id"`
	Email      string         `json:"email"`
	SP         string         `json:"sp"`
	RemoteAddr string         `json:"remote_addr"`
	Reason     string         `json:"reason"`
	Details    map[string]any `json:"details,omitempty"`
}

// maxAuditPage bounds one audit search.
const maxAuditPage = 1000

func (h *Handler) searchAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.AuditFilter{User: q.Get("user"), Action: q.Get("action"), Limit: 100}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			h.apiFail(w, r, &Error{Status: http.StatusBadRequest, Detail: "limit must be a whole number of at least 1."})
			return
		}
		f.Limit = min(n, maxAuditPage)
	}
	for _, b := range []struct {
		name string
		t    *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(b.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				h.apiFail(w, r, &Error{Status: http.StatusBadRequest, Detail: b.name + " must be a time like 2026-05-04T09:00:00Z."})
				return
			}
			*b.t = t
		}
	}
	list, err := h.acct.SearchAudit(r.Context(), f)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	out := make([]auditJSON, len(list))
	for i, e := range list {
		out[i] = auditJSON{ID: e.ID, Time: e.Time, Action: e.Action, Actor: e.Actor, UserID: e.UserID, Email: e.Email, SP: e.SP,
			RemoteAddr: e.RemoteAddr, Reason: e.Reason}
		if len(e.Details) > 0 {
			_ = jsonUnmarshal(e.Details, &out[i].Details)
		}
	}
	writeAPI(w, http.StatusOK, map[string]any{"events": out})
}

// previewJSON is what an SP would receive for a user.
type previewJSON struct {
	User         string          `json:"user"`
	UserID       string          `json:"user_id"`
	SP           string          `json:"sp"`
	Disabled     bool            `json:"disabled"`
	Unassigned   bool            `json:"unassigned"`
	NameID       string          `json:"name_id"`
	NameIDFormat string          `json:"name_id_format"`
	Attributes   []attributeJSON `json:"attributes"`
}

type attributeJSON struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

func (h *Handler) preview(w http.ResponseWriter, r *http.Request) {
	spName := r.URL.Query().Get("sp")
	if spName == "" {
		h.apiFail(w, r, &Error{Status: http.StatusBadRequest, Detail: "sp (the service provider's name) is required."})
		return
	}
	pv, err := h.acct.PreviewRelease(r.Context(), chi.URLParam(r, "user"), spName)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	out := previewJSON{User: pv.User.Email, UserID: pv.User.ID, SP: pv.SP.Name, Disabled: pv.User.Disabled, Unassigned: pv.Unassigned,
		NameID: pv.Released.NameID, NameIDFormat: pv.Released.NameIDFormat, Attributes: []attributeJSON{}}
	for _, a := range pv.Released.Attributes {
		out.Attributes = append(out.Attributes, attributeJSON{Name: a.Name, Values: a.Values})
	}
	writeAPI(w, http.StatusOK, out)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
