package server

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
)

// The console's Audit log page (accounts.ReadAudit: every console role):
// filter by user, actor, action and time; keyset pages (accounts.AuditPage,
// as fast deep in the log as at its start); export of the filtered events
// as CSV or JSON lines, streamed a page at a time (accounts.ExportAudit).

// auditFilters is the filter form, as typed.
type auditFilters struct{ User, Actor, Action, Since, Until string }

// auditView is the Audit log page.
type auditView struct {
	Filters auditFilters
	Events  []store.AuditEvent
	// Next and First are links to the next and the first page, Export the
	// query of the export links; "" when there is none.
	Next, First, Export string
	Error               string
}

// auditQuery reads the filters of r into a query.
func (s *Server) auditQuery(r *http.Request) (auditFilters, accounts.AuditQuery, error) {
	v := r.URL.Query()
	f := auditFilters{User: v.Get("user"), Actor: v.Get("actor"), Action: v.Get("action"), Since: v.Get("since"), Until: v.Get("until")}
	q := accounts.AuditQuery{User: f.User, Actor: f.Actor, Action: f.Action, After: v.Get("after")}
	var err error
	if q.Since, err = accounts.ParseWhen(f.Since, s.acct.Now()); err != nil {
		return f, q, err
	}
	q.Until, err = accounts.ParseWhen(f.Until, s.acct.Now())
	return f, q, err
}

// query is the URL query of the filters (empty ones left out).
func (f auditFilters) query() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"user": f.User, "actor": f.Actor, "action": f.Action, "since": f.Since, "until": f.Until} {
		if s = strings.TrimSpace(s); s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// consoleAudit shows one page of the filtered audit log, newest first.
func (s *Server) consoleAudit(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.auditQuery(r)
	var page accounts.AuditPage
	if err == nil {
		page, err = s.acct.AuditPage(r.Context(), q)
	}
	if s.formRefused(w, r, err, func(status int, msg string) {
		s.consoleRender(w, r, status, "audit", "Audit log", auditView{Filters: f, Error: msg})
	}) {
		return
	}
	base := f.query()
	v := auditView{Filters: f, Events: page.Events, Export: base.Encode()}
	if page.Next != "" {
		next := f.query()
		next.Set("after", page.Next)
		v.Next = consolePrefix + "/audit?" + next.Encode()
	}
	if q.After != "" {
		v.First = consolePrefix + "/audit?" + base.Encode()
	}
	s.consoleRender(w, r, http.StatusOK, "audit", "Audit log", v)
}

// exportWindow is how long an export may take to send.
const exportWindow = 10 * time.Minute

// consoleAuditExport streams the filtered events (all pages) as CSV
// (format=csv) or JSON lines (format=jsonl, the shape of idp audit
// --json), newest first.
func (s *Server) consoleAuditExport(w http.ResponseWriter, r *http.Request) {
	_, q, err := s.auditQuery(r)
	format := r.URL.Query().Get("format")
	if err == nil && format != "csv" && format != "jsonl" {
		err = &accounts.Error{Code: accounts.Invalid, Message: "Export as csv or jsonl."}
	}
	if err == nil { // check the filters before the first byte is sent
		probe := q
		probe.Limit = 1
		_, err = s.acct.AuditPage(r.Context(), probe)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(exportWindow))
	name := "flexidp-audit-" + s.acct.Now().Format("20060102T150405Z")
	var each func(store.AuditEvent) error
	var flush func()
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		cw := csv.NewWriter(w)
		_ = cw.Write(accounts.AuditColumns)
		each = func(e store.AuditEvent) error { return cw.Write(accounts.AuditRow(e)) }
		flush = cw.Flush
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.jsonl"`)
		enc := json.NewEncoder(w)
		each = func(e store.AuditEvent) error { return enc.Encode(accounts.AuditRecord(e)) }
		flush = func() {}
	}
	if err := s.acct.ExportAudit(r.Context(), q, each); err != nil {
		// The status is sent: the file ends short, and the log says why.
		s.log.WarnContext(r.Context(), "audit export ended early", "request_id", requestIDFrom(r.Context()), "err", err)
	}
	flush()
}

// consoleAuditRoutes mounts the Audit log page (accounts.ReadAudit).
func (s *Server) consoleAuditRoutes(r chi.Router) {
	r.Route("/audit", func(r chi.Router) {
		r.Use(s.can(accounts.ReadAudit))
		r.Get("/", s.consoleAudit)
		r.Get("/export", s.consoleAuditExport)
	})
}
