package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/url"
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
	_, dbURL, email, err := userCommand(env, "idp users unlock", "--email EMAIL [--address IP]",
		"End the sign-in lock (and back-off) of an account, and of a client address with --address.\nWorks for any email, existing or not: unknown accounts are throttled alike.", args, func(fs *flag.FlagSet) {
			fs.StringVar(&address, "address", "", "also unlock this client address")
		})
	if err != nil {
		return err
	}
	st, err := openAdminStore(ctx, env, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	keys := []string{accounts.AccountKey(*email)}
	u, err := findUser(ctx, st, *email)
	if err == nil {
		keys = []string{accounts.AccountKey(u.Email), accounts.MFAKey(u.ID)}
	} else {
		u = users.User{Email: *email}
	}
	if address != "" {
		keys = append(keys, accounts.AddressKey(address))
	}
	var unlocked []string
	for _, k := range keys {
		if err := st.DeleteThrottle(ctx, k); err == nil {
			unlocked = append(unlocked, k)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	auditAdmin(ctx, env, st, adminChange{action: "user.unlock", user: &u, reason: strings.Join(unlocked, ",")})
	if len(unlocked) == 0 {
		fmt.Fprintf(env.stdout, "%s had no failed sign-ins on record\n", u.Email)
		return nil
	}
	fmt.Fprintf(env.stdout, "unlocked %s\n", strings.Join(unlocked, ", "))
	return nil
}

func runUsersResetMFA(ctx context.Context, env *environment, args []string) error {
	_, dbURL, email, err := userCommand(env, "idp users reset-mfa", "--email EMAIL",
		"Remove a user's two-step verification (lost phone): their sessions end, and they enrol again\nat the next sign-in if their role requires it.", args, nil)
	if err != nil {
		return err
	}
	st, u, err := openUser(ctx, env, *dbURL, *email)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.DeleteMFA(ctx, u.ID); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s has no two-step verification", u.Email)
	} else if err != nil {
		return err
	}
	// A sign-in already past the password was headed for the removed
	// factor: it starts again.
	if _, err := st.UpdateUser(ctx, u.ID, func(cur users.User) (users.User, error) {
		cur.CredentialsChanged()
		return cur, nil
	}); err != nil {
		return err
	}
	n, err := st.DeleteUserSessions(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := st.DeleteThrottle(ctx, accounts.MFAKey(u.ID)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	auditAdmin(ctx, env, st, adminChange{action: "user.reset-mfa", user: &u, reason: fmt.Sprintf("%d session(s) ended", n)})
	fmt.Fprintf(env.stdout, "removed the two-step verification of %s; ended %d session(s)\n", u.Email, n)
	return nil
}

// linkFlags are the flags of invite and reset-link.
type linkFlags struct {
	baseURL string
	expires time.Duration
	noEmail bool

	// Set by check.
	base   *url.URL
	mailer *mailer
}

// check validates the flags, the base URL and the mail settings, so that a
// command fails before it writes anything (an invited user without a link).
func (l *linkFlags) check(ctx context.Context, env *environment, st store.Store) error {
	var err error
	if l.base, err = baseURLFor(ctx, st, l.baseURL); err != nil {
		return err
	}
	if l.expires <= 0 || l.expires > 30*24*time.Hour {
		return usageError{"--expires must be between 1s and 720h"}
	}
	l.mailer, err = mailerFromEnv(env)
	return err
}

func (l *linkFlags) register(env *environment, fs *flag.FlagSet, def time.Duration) {
	fs.StringVar(&l.baseURL, "base-url", envOr(env, "IDP_BASE_URL", ""), "external URL of flexidp, which the link points to (IDP_BASE_URL; default: the one idp serve or idp dev last ran with)")
	fs.DurationVar(&l.expires, "expires", def, "how long the link stays usable")
	fs.BoolVar(&l.noEmail, "no-email", false, "do not email the link even when IDP_SMTP_HOST is set")
}

func runUsersInvite(ctx context.Context, env *environment, args []string) error {
	var f userFields
	var l linkFlags
	fs, dbURL, email, err := userCommand(env, "idp users invite", "--email EMAIL [profile flags]",
		"Invite a user: create them without a password (profile flags as for add) if they do not exist,\nand print a single-use link where they choose their password. With IDP_SMTP_* set, the link is\nalso emailed to them.", args, func(fs *flag.FlagSet) {
			f.register(fs)
			l.register(env, fs, 7*24*time.Hour)
		})
	if err != nil {
		return err
	}
	st, err := openAdminStore(ctx, env, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := l.check(ctx, env, st); err != nil {
		return err
	}
	u, err := st.GetUserByEmail(ctx, *email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		u = users.User{ID: newUserID(), Email: users.NormalizeEmail(*email)}
		if err := f.apply(&u, visited(fs)); err != nil {
			return err
		}
		if err := u.Validate(); err != nil {
			return err
		}
		if err := st.CreateUser(ctx, u); err != nil {
			return err
		}
		auditAdmin(ctx, env, st, adminChange{action: "user.add", user: &u, after: userView(u)})
		fmt.Fprintf(env.stdout, "added user %s (%s) without a password\n", u.Email, u.ID)
	case err != nil:
		return err
	case u.PasswordHash != "":
		return fmt.Errorf("%s already has a password; use idp users reset-link", u.Email)
	}
	return issueLink(ctx, env, st, u, store.TokenInvite, l)
}

func runUsersResetLink(ctx context.Context, env *environment, args []string) error {
	var l linkFlags
	_, dbURL, email, err := userCommand(env, "idp users reset-link", "--email EMAIL",
		"Print a single-use link where the user chooses a new password (emailed too with IDP_SMTP_* set).\nSetting it ends their sessions and unlocks the account.", args, func(fs *flag.FlagSet) {
			l.register(env, fs, 24*time.Hour)
		})
	if err != nil {
		return err
	}
	st, u, err := openUser(ctx, env, *dbURL, *email)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := l.check(ctx, env, st); err != nil {
		return err
	}
	return issueLink(ctx, env, st, u, store.TokenReset, l)
}

// issueLink stores a password link token for u, prints the link and
// mails it when SMTP is configured. Only the hash of the secret is stored.
// l has been checked.
func issueLink(ctx context.Context, env *environment, st store.Store, u users.User, purpose string, l linkFlags) error {
	base, m := l.base, l.mailer
	secret := randomSecret()
	t := store.Token{ID: accounts.LinkTokenID(secret), UserID: u.ID, Purpose: purpose, ExpiresAt: time.Now().Add(l.expires)}
	if err := st.CreateToken(ctx, t); err != nil {
		return err
	}
	link := strings.TrimSuffix(base.String(), "/") + accounts.PasswordPath + "?token=" + secret
	auditAdmin(ctx, env, st, adminChange{action: "user." + map[string]string{store.TokenInvite: "invite", store.TokenReset: "reset-link"}[purpose],
		user: &u, reason: "expires " + t.ExpiresAt.UTC().Format(time.RFC3339)})
	fmt.Fprintf(env.stdout, "%s\n", link)
	fmt.Fprintf(env.stderr, "single-use link for %s, valid until %s\n", u.Email, t.ExpiresAt.Format(time.DateTime))
	if m != nil && !l.noEmail {
		subject, intro := "Reset your flexidp password", "Someone (hopefully you) asked to reset your password for flexidp."
		if purpose == store.TokenInvite {
			subject, intro = "You are invited to flexidp", "You have an account on flexidp, the sign-in for Twilio Flex."
		}
		body := fmt.Sprintf("%s\n\nChoose your password here (the link works once, until %s):\n\n%s\n\nIf you did not expect this email, ignore it.\n",
			intro, t.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"), link)
		if err := m.Send(ctx, u.Email, subject, body); err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "emailed to %s\n", u.Email)
	}
	return nil
}

// randomSecret is the secret of a password link: 256 random bits.
func randomSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // no entropy: nothing safe can be done
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// twoStepStatus describes u's second factor for idp users show.
func twoStepStatus(ctx context.Context, st store.Store, u users.User) string {
	m, err := st.GetMFA(ctx, u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "off"
	case err != nil:
		return "unknown: " + err.Error()
	case m.ConfirmedAt.IsZero():
		return "enrolment pending"
	}
	return fmt.Sprintf("on since %s, %d recovery code(s) left", m.ConfirmedAt.Format(time.DateOnly), len(m.RecoveryCodes))
}

// lockStatus describes the sign-in throttle of u's account.
func lockStatus(ctx context.Context, st store.Store, u users.User) string {
	t, err := st.GetThrottle(ctx, accounts.AccountKey(u.Email))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "none"
	case err != nil:
		return "unknown: " + err.Error()
	case time.Now().Before(t.LockedUntil):
		return fmt.Sprintf("locked until %s (idp users unlock)", t.LockedUntil.Format(time.DateTime))
	}
	return fmt.Sprintf("%d recent failed sign-in(s)", t.Failures)
}
