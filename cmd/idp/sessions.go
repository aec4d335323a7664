package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
)

func sessionsCommands() map[string]command {
	return map[string]command{
		"list":   {summary: "list a user's IdP sessions", run: runSessionsList},
		"revoke": {summary: "end one session (--id) or all of a user's (--email)", run: runSessionsRevoke},
	}
}

func runSessionsList(ctx context.Context, env *environment, args []string) error {
	c := userCmd{name: "idp sessions list", usage: "--email EMAIL", desc: "List a user's IdP sessions, newest first. The ID is the hash of the cookie, not the cookie."}
	return onUserRef(ctx, env, c, args, func(svc *accounts.Service, ref string) error {
		u, list, err := svc.Sessions(ctx, ref)
		if err != nil {
			return err
		}
		now := svc.Now()
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSIGNED IN\tLAST SEEN\tEXPIRES\tADDRESS\tSTATUS\tBROWSER")
		for _, s := range list {
			status := "active"
			if !now.Before(s.ExpiresAt) {
				status = "expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.CreatedAt.Format(time.DateTime), s.LastSeenAt.Format(time.DateTime),
				s.ExpiresAt.Format(time.DateTime), orDash(s.RemoteAddr), status, truncateText(s.UserAgent, 40))
		}
		if len(list) == 0 {
			fmt.Fprintf(tw, "(%s has no sessions)\n", u.Email)
		}
		return tw.Flush()
	})
}

func runSessionsRevoke(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp sessions revoke", "--email EMAIL | --id ID", "End one IdP session, or every session of a user. Flex keeps its own session until its token expires.")
	dbURL := databaseFlag(env, fs)
	email := fs.String("email", "", "end every session of this user (email or ID)")
	id := fs.String("id", "", "end this session (an ID from idp sessions list)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if (*email == "") == (*id == "") {
		fs.Usage()
		return usageError{"idp sessions revoke: give exactly one of --email and --id"}
	}
	svc, st, err := openService(ctx, env, *dbURL, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if *id != "" {
		u, err := svc.RevokeSession(ctx, env.admin(), *id)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "ended session %s of %s\n", *id, orDefault(u.Email, u.ID))
		return nil
	}
	u, n, err := svc.RevokeSessions(ctx, env.admin(), *email)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "ended %d session(s) of %s\n", n, u.Email)
	return nil
}

func truncateText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return orDash(s)
}
