package server

import (
	"context"
	"log/slog"
)

// LogHandler wraps h so every record logged with a request's context
// carries its request_id, the same ID the error page shows.
func LogHandler(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := requestIDFrom(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// maxLoggedMethod and maxLoggedPath bound what a request can make us log:
// net/http accepts any token as a method, and a path as long as the
// header limit (64 KiB).
const (
	maxLoggedMethod = 16
	maxLoggedPath   = 512
)

// logMethod is the request method as logged and shown: a standard one as
// is, anything else cut to maxLoggedMethod bytes (a method is a token, so
// it holds no control characters or spaces).
func logMethod(method string) string {
	if knownMethods[method] || len(method) <= maxLoggedMethod {
		return method
	}
	return method[:maxLoggedMethod] + "…"
}
