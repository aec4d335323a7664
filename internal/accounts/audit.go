package accounts

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flexidp/flexidp/internal/store"
)

// Page sizes of AuditPage.
const (
	DefaultAuditPage = 50
	MaxAuditPage     = 500
)

// AuditQuery is a search of the audit log (the console's Audit page, its
// export). The zero value is the first page of everything, newest first.
type AuditQuery struct {
	// User is the user's email (any case) or ID; Actor who made the
	// change; Action an action ("signin.failure") or its prefix
	// ("signin", "admin").
	User, Actor, Action string
	// Since and Until bound the time: Since <= time < Until; zero is
	// unbounded.
	Since, Until time.Time
	// After is the Next of the previous page; "" is the first page.
	After string
	// Limit is the page size, 1 to MaxAuditPage; 0 means DefaultAuditPage.
	Limit int
}

// AuditPage is one page of the audit log, newest first.
type AuditPage struct {
	Events []store.AuditEvent
	// Next is the After of the following page; "" when this is the last.
	Next string
}

// filter checks q and returns its store filter, without a limit.
func (q AuditQuery) filter() (store.AuditFilter, error) {
	f := store.AuditFilter{User: strings.TrimSpace(q.User), Actor: strings.TrimSpace(q.Actor),
		Action: strings.TrimSpace(q.Action), Since: q.Since, Until: q.Until}
	for _, t := range []struct{ what, v string }{{"user", f.User}, {"actor", f.Actor}, {"action", f.Action}} {
		if !utf8.ValidString(t.v) || utf8.RuneCountInString(t.v) > maxSearchText {
			return f, errorf(Invalid, "The %s must be valid text of at most %d characters.", t.what, maxSearchText)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, errorf(Invalid, "The start of the time range (%s) must be before its end (%s).",
			f.Since.UTC().Format(time.RFC3339), f.Until.UTC().Format(time.RFC3339))
	}
	if q.After != "" {
		id, err := strconv.ParseInt(q.After, 10, 64)
		if err != nil || id <= 0 {
			return f, errorf(Invalid, "The page cursor is not one this list gave; start again from the first page.")
		}
		f.Before = id
	}
	return f, nil
}

// AuditPage returns one page of the events matching q, newest first.
// Paging is by keyset (the event ID): a page deep in the log costs what
// the first does, and events added meanwhile do not shift the pages.
func (s *Service) AuditPage(ctx context.Context, q AuditQuery) (AuditPage, error) {
	f, err := q.filter()
	if err != nil {
		return AuditPage{}, err
	}
	switch {
	case q.Limit == 0:
		f.Limit = DefaultAuditPage
	case q.Limit < 0 || q.Limit > MaxAuditPage:
		return AuditPage{}, errorf(Invalid, "The page size must be between 1 and %d (got %d).", MaxAuditPage, q.Limit)
	default:
		f.Limit = q.Limit
	}
	limit := f.Limit
	f.Limit++ // one more tells whether a next page exists
	list, err := s.st.ListAudit(ctx, f)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Events: list}
	if len(list) > limit {
		page.Events = list[:limit]
		page.Next = strconv.FormatInt(list[limit-1].ID, 10)
	}
	return page, nil
}

// ExportAudit hands every event matching q (from q.After on, whatever
// q.Limit) to each, newest first, reading the store a page at a time: an
// export of a large log is streamed, never held whole. An error from each
// stops it and is returned.
func (s *Service) ExportAudit(ctx context.Context, q AuditQuery, each func(store.AuditEvent) error) error {
	q.Limit = MaxAuditPage
	for {
		page, err := s.AuditPage(ctx, q)
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			if err := each(e); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		q.After = page.Next
	}
}

// AuditRecord is an event as idp audit --json and the console's JSON
// export write it, one object per line.
func AuditRecord(e store.AuditEvent) map[string]any {
	m := map[string]any{"id": e.ID, "time": e.Time, "action": e.Action, "actor": e.Actor, "user_id": e.UserID,
		"email": e.Email, "sp": e.SP, "remote_addr": e.RemoteAddr, "reason": e.Reason}
	if len(e.Details) > 0 {
		m["details"] = e.Details
	}
	return m
}

// AuditColumns are the columns of the CSV audit export, and AuditRow an
// event's row.
var AuditColumns = []string{"id", "time", "action", "actor", "user_id", "email", "sp", "remote_addr", "reason", "details"}

// AuditRow returns e's cells, in AuditColumns' order.
func AuditRow(e store.AuditEvent) []string {
	return []string{strconv.FormatInt(e.ID, 10), e.Time.UTC().Format(time.RFC3339Nano), e.Action, e.Actor, e.UserID,
		e.Email, e.SP, e.RemoteAddr, e.Reason, string(e.Details)}
}

// ParseWhen reads a time as RFC 3339 (2025-06-01T08:00:00Z), a date and
// time in UTC as a browser's datetime-local field sends it
// (2025-06-01T08:00), a date (2025-06-01, midnight UTC), or a duration
// back from now (24h). "" is the zero time (unbounded).
func ParseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, errorf(Invalid, "%q is not a time (2025-06-01T08:00:00Z), a date (2025-06-01) or a duration (24h)", s)
}
