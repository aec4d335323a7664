package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/flexidp/flexidp/internal/store"
)

// Audit actions written by the web layer.
const (
	auditSignIn        = "signin.success"
	auditSignInFailure = "signin.failure"
	auditLockout       = "lockout"
	auditMFAEnrolled   = "mfa.enrolled"
	auditMFAFailure    = "mfa.failure"
	auditMFARecovery   = "mfa.recovery_code_used"
	auditResponse      = "saml.response"
	auditLogout        = "logout"
	auditPasswordSet   = "password.set"
)

// audit appends e to the audit trail and writes it as a structured log
// line. The client address is the request's; the write survives a client
// that disconnects. A failed write is logged, never shown: the sign-in it
// records has already happened.
func (s *Server) audit(r *http.Request, e store.AuditEvent) {
	ctx := context.WithoutCancel(r.Context())
	if e.RemoteAddr == "" {
		e.RemoteAddr = s.clientIP(r)
	}
	e.Time = s.now()
	attrs := []slog.Attr{slog.String("action", e.Action)}
	for _, kv := range [][2]string{{"actor", e.Actor}, {"user", e.UserID}, {"email", e.Email}, {"sp", e.SP},
		{"remote_addr", e.RemoteAddr}, {"reason", e.Reason}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	if len(e.Details) > 0 {
		attrs = append(attrs, slog.Any("details", logJSON(e.Details)))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
	if _, err := s.store.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit trail write failed", "action", e.Action, "err", err)
	}
}

// details encodes v as an audit event's Details.
func details(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// logJSON logs as the JSON object itself in JSON logs, and as its text in
// text logs.
type logJSON json.RawMessage

func (j logJSON) MarshalJSON() ([]byte, error) { return j, nil }
func (j logJSON) MarshalText() ([]byte, error) { return j, nil }
