package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Commands that help users in, without email infrastructure: password
// links, unlocking, and resetting a lost second factor.

func runUsersUnlock(ctx context.Context, env *environment, args []string) error {
	var address string
	c := userCmd{name: "idp users unlock", usage: "--email EMAIL [--address IP]",
		desc: "End the sign-in lock (and back-off) of an account, and of a client address with --address.\nWorks for any email, existing or not: unknown accounts are throttled alike.",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&address, "address", "", "also unlock this client address")
		}}
	return onUserRef(ctx, env, c, args, func(svc *accounts.Service, ref string) error {
		unlocked, err := svc.Unlock(ctx, env.admin(), ref, address)
		if err != nil {
			return err
		}
		if len(unlocked) == 0 {
			fmt.Fprintf(env.stdout, "%s had no failed sign-ins on record\n", ref)
			return nil
		}
		fmt.Fprintf(env.stdout, "unlocked %s\n", strings.Join(unlocked, ", "))
		return nil
	})
}

func runUsersResetMFA(ctx context.Context, env *environment, args []string) error {
	c := userCmd{name: "idp users reset-mfa", usage: "--email EMAIL",
		desc: "Remove a user's two-step verification, TOTP and passkeys (lost phone or security key): their sessions end, and they enrol again\nat the next sign-in if their role requires it."}
	return withUser(ctx, env, c, args, func(svc *accounts.Service, u users.User) error {
		n, err := svc.ResetMFA(ctx, env.admin(), u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "removed the two-step verification of %s; ended %d session(s)\n", u.Email, n)
		return nil
	})
}

// linkFlags are the flags of invite and reset-link.
type linkFlags struct {
	baseURL string
	expires time.Duration
	noEmail bool
}

func (l *linkFlags) register(env *environment, fs *flag.FlagSet, def time.Duration) {
	fs.StringVar(&l.baseURL, "base-url", envOr(env, "IDP_BASE_URL", ""), "external URL of flexidp, which the link points to (IDP_BASE_URL; default: the one idp serve or idp dev last ran with)")
	fs.DurationVar(&l.expires, "expires", def, "how long the link stays usable")
	fs.BoolVar(&l.noEmail, "no-email", false, "do not email the link even when IDP_SMTP_HOST is set")
}

// check names the flag when --expires is out of the service's range,
// before anything is opened.
func (l *linkFlags) check(*flag.FlagSet) error {
	if l.expires <= 0 || l.expires > accounts.MaxLinkTTL {
		return usageError{fmt.Sprintf("--expires must be between 1s and %.0fh", accounts.MaxLinkTTL.Hours())}
	}
	return nil
}

// email reports whether the link is to be emailed too (when IDP_SMTP_* is set).
func (l *linkFlags) email() bool { return !l.noEmail }

func runUsersInvite(ctx context.Context, env *environment, args []string) error {
	var f userFields
	var l linkFlags
	req := accounts.LinkRequest{Purpose: store.TokenInvite}
	c := userCmd{name: "idp users invite", usage: "--email EMAIL [profile flags]",
		desc: "Invite a user: create them without a password (profile flags as for add) if they do not exist,\nand print a single-use link where they choose their password. With IDP_SMTP_* set, the link is\nalso emailed to them.",
		flags: func(fs *flag.FlagSet) {
			f.register(fs)
			l.register(env, fs, accounts.InviteTTL)
		},
		check: func(fs *flag.FlagSet) error {
			if err := f.apply(&req.Profile, visited(fs)); err != nil {
				return err
			}
			return l.check(fs)
		},
		mail: l.email}
	return onUserRef(ctx, env, c, args, func(svc *accounts.Service, ref string) error {
		req.Ref = ref
		return issueLink(ctx, env, svc, l, req)
	})
}

func runUsersResetLink(ctx context.Context, env *environment, args []string) error {
	var l linkFlags
	c := userCmd{name: "idp users reset-link", usage: "--email EMAIL",
		desc:  "Print a single-use link where the user chooses a new password (emailed too with IDP_SMTP_* set).\nSetting it ends their sessions and unlocks the account.",
		flags: func(fs *flag.FlagSet) { l.register(env, fs, accounts.ResetTTL) },
		check: l.check,
		mail:  l.email}
	return onUserRef(ctx, env, c, args, func(svc *accounts.Service, ref string) error {
		return issueLink(ctx, env, svc, l, accounts.LinkRequest{Ref: ref, Purpose: store.TokenReset})
	})
}

// issueLink has the service issue the password link req asks for, with
// the base URL and lifetime of l, and prints it: the link on stdout, what
// it is on stderr. A link that was issued but could not be emailed is
// printed too (it is valid), and the failure returned.
func issueLink(ctx context.Context, env *environment, svc *accounts.Service, l linkFlags, req accounts.LinkRequest) error {
	base, err := baseURLFor(ctx, svc, l.baseURL)
	if err != nil {
		return err
	}
	req.BaseURL, req.TTL, req.Email = base, l.expires, l.email()
	link, err := svc.IssueLink(ctx, env.admin(), req)
	if link.URL == "" {
		return err
	}
	if link.Created {
		fmt.Fprintf(env.stdout, "added user %s (%s) without a password\n", link.User.Email, link.User.ID)
	}
	fmt.Fprintln(env.stdout, link.URL)
	fmt.Fprintf(env.stderr, "single-use link for %s, valid until %s\n", link.User.Email, link.ExpiresAt.Local().Format(time.DateTime))
	if link.Emailed {
		fmt.Fprintf(env.stderr, "emailed to %s\n", link.User.Email)
	}
	return err
}
