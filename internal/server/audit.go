package server

import (
	"encoding/json"
	"net/http"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
)

// audit records e through the one audit writer (accounts.Service.Audit),
// with the request's client address. A failed write is logged there,
// never shown: what it records has already happened.
func (s *Server) audit(r *http.Request, e store.AuditEvent) {
	_ = s.acct.Audit(r.Context(), s.event(r, e))
}

// event is e as r records it: with the client address and the time.
func (s *Server) event(r *http.Request, e store.AuditEvent) store.AuditEvent {
	if e.RemoteAddr == "" {
		e.RemoteAddr = s.clientIP(r)
	}
	e.Time = s.now()
	return e
}

// details encodes v as an audit event's Details.
func details(v any) json.RawMessage { return accounts.Details(v) }
