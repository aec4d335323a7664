package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
)

func tokensCommands() map[string]command {
	return map[string]command{
		"create": {summary: "create an API token for SCIM or the admin API (shown once)", run: runTokensCreate},
		"list":   {summary: "list API tokens (never their secrets)", run: runTokensList},
		"revoke": {summary: "revoke an API token (--name)", run: runTokensRevoke},
	}
}

func runTokensCreate(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp tokens create", "--name NAME --scope SCOPES [--expires 90d]",
		"Create an API token. The token is printed once: copy it into the provisioning connector now. Scopes: "+scopeNames()+".")
	dbURL := databaseFlag(env, fs)
	name := fs.String("name", "", "the token's name, recorded as the actor of its changes (okta, entra, hr-feed)")
	scope := fs.String("scope", "", "comma-separated scopes, e.g. scim or users:read,audit:read")
	expires := fs.String("expires", "90d", "lifetime: a number of days (90d) or a Go duration (12h)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	scopes, err := accounts.ParseScopes(*scope)
	if err != nil {
		return err
	}
	ttl, err := parseLifetime(*expires)
	if err != nil {
		return err
	}
	svc, st, err := openService(ctx, env, *dbURL, false)
	if err != nil {
		return err
	}
	defer st.Close()
	tok, bearer, err := svc.CreateToken(ctx, env.admin(), accounts.NewToken{Name: *name, Scopes: scopes, TTL: ttl})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "created token %s (%s), expires %s; it is shown only now:\n", tok.Name, strings.Join(tok.Scopes, ","),
		tok.ExpiresAt.Format(time.DateOnly))
	fmt.Fprintln(env.stdout, bearer)
	return nil
}

// parseLifetime reads "90d" (days) or a Go duration ("12h").
func parseLifetime(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(strings.TrimSpace(s), "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, usageError{fmt.Sprintf("--expires %q: give a number of days (90d) or a duration (12h)", s)}
}

func scopeNames() string {
	names := make([]string, len(accounts.Scopes))
	for i, sc := range accounts.Scopes {
		names[i] = string(sc)
	}
	return strings.Join(names, ", ")
}

func runTokensList(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp tokens list", "", "List API tokens: name, scopes, expiry, last use. Secrets are never shown.")
	dbURL := databaseFlag(env, fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	svc, st, err := openService(ctx, env, *dbURL, false)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := svc.ListTokens(ctx)
	if err != nil {
		return err
	}
	now := svc.Now()
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSCOPES\tEXPIRES\tLAST USED\tSTATUS\tCREATED BY")
	for _, t := range list {
		status, used := "active", "never"
		switch {
		case !t.RevokedAt.IsZero():
			status = "revoked"
		case !now.Before(t.ExpiresAt):
			status = "expired"
		}
		if !t.LastUsedAt.IsZero() {
			used = t.LastUsedAt.Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, strings.Join(t.Scopes, ","), t.ExpiresAt.Format(time.DateTime), used, status, orDash(t.CreatedBy))
	}
	if len(list) == 0 {
		fmt.Fprintln(tw, "(no API tokens; create one with idp tokens create)")
	}
	return tw.Flush()
}

func runTokensRevoke(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp tokens revoke", "--name NAME", "Revoke an API token: it stops working at once.")
	dbURL := databaseFlag(env, fs)
	name := fs.String("name", "", "the token's name (or ID)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *name == "" {
		fs.Usage()
		return usageError{"idp tokens revoke: --name is required"}
	}
	svc, st, err := openService(ctx, env, *dbURL, false)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := svc.RevokeToken(ctx, env.admin(), *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "revoked token %s\n", t.Name)
	return nil
}
