package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/user"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
)

func auditCommands() map[string]command {
	return map[string]command{
		"tail":   {summary: "show the latest audit events", run: runAuditTail},
		"search": {summary: "find audit events by user, action and time", run: runAuditSearch},
	}
}

// who is the administrator making a CLI change: --actor, else $USER
// (unset under cron, containers and sudo -i), else the OS account running
// the command, else "cli".
func (e *environment) who() string {
	if e.actor != "" {
		return e.actor
	}
	if u := e.getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "cli"
}

func runAuditTail(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp audit tail", "[-n N]", "Show the latest audit events, oldest first.")
	dbURL := databaseFlag(env, fs)
	n := fs.Int("n", 20, "how many events")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	return listAudit(ctx, env, *dbURL, store.AuditFilter{Limit: max(*n, 1)}, *asJSON)
}

func runAuditSearch(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp audit search", "[--user EMAIL|ID] [--action A] [--since T] [--until T] [-n N]",
		"Find audit events, oldest first. Times are RFC 3339 (2025-06-01T08:00:00Z), a date (2025-06-01),\nor a duration back from now (24h).")
	dbURL := databaseFlag(env, fs)
	user := fs.String("user", "", "the user's email (any case) or ID")
	action := fs.String("action", "", "an action (signin.failure) or its prefix (signin, admin, mfa)")
	since := fs.String("since", "", "events at or after this time")
	until := fs.String("until", "", "events before this time")
	n := fs.Int("n", 1000, "at most this many (the newest)")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	f := store.AuditFilter{User: *user, Action: *action, Limit: max(*n, 1)}
	var err error
	if f.Since, err = parseWhen(*since, time.Now()); err != nil {
		return usageError{"--since: " + err.Error()}
	}
	if f.Until, err = parseWhen(*until, time.Now()); err != nil {
		return usageError{"--until: " + err.Error()}
	}
	return listAudit(ctx, env, *dbURL, f, *asJSON)
}

// parseWhen reads a time as RFC 3339, a date, or a duration ago
// (accounts.ParseWhen).
func parseWhen(s string, now time.Time) (time.Time, error) { return accounts.ParseWhen(s, now) }

func listAudit(ctx context.Context, env *environment, dbURL string, f store.AuditFilter, asJSON bool) error {
	var events []store.AuditEvent
	err := withService(ctx, env, dbURL, func(svc *accounts.Service) (err error) {
		events, err = svc.SearchAudit(ctx, f)
		return err
	})
	if err != nil {
		return err
	}
	slices.Reverse(events) // oldest first, like tail
	if asJSON {
		enc := json.NewEncoder(env.stdout)
		for _, e := range events {
			if err := enc.Encode(accounts.AuditRecord(e)); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTION\tACTOR\tUSER\tSP\tADDRESS\tREASON\tDETAILS")
	for _, e := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format("2006-01-02 15:04:05Z"), e.Action, e.Actor,
			orDash(e.Email), orDash(e.SP), orDash(e.RemoteAddr), orDash(e.Reason), orDash(string(e.Details)))
	}
	return tw.Flush()
}

func orDash(s string) string { return orDefault(s, "-") }
