package main

import (
	"log/slog"
	"slices"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/server"
)

// hardeningOptions configure sign-in throttling and the second factor
// (README.md, "Configuration").
type hardeningOptions struct {
	lockout      accounts.LockoutPolicy
	mfaRoles     string
	passkeyRoles string
	mfaSecret    string
}

func (o *hardeningOptions) register(env *environment, fs interface {
	StringVar(*string, string, string, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	IntVar(*int, string, int, string)
}) {
	d, l := accounts.DefaultLockout, &o.lockout
	fs.IntVar(&l.BackoffAfter, "lockout-backoff-after", envInt(env, "IDP_LOCKOUT_BACKOFF_AFTER", d.BackoffAfter), "failed sign-ins of an account before each further attempt waits, doubling (IDP_LOCKOUT_BACKOFF_AFTER)")
	fs.IntVar(&l.LockAfter, "lockout-threshold", envInt(env, "IDP_LOCKOUT_THRESHOLD", d.LockAfter), "failed sign-ins that lock an account for --lockout-duration (IDP_LOCKOUT_THRESHOLD)")
	fs.IntVar(&l.AddressBackoffAfter, "lockout-address-backoff-after", envInt(env, "IDP_LOCKOUT_ADDRESS_BACKOFF_AFTER", d.AddressBackoffAfter), "the same per client address; a contact centre behind NAT shares one (IDP_LOCKOUT_ADDRESS_BACKOFF_AFTER)")
	fs.IntVar(&l.AddressLockAfter, "lockout-address-threshold", envInt(env, "IDP_LOCKOUT_ADDRESS_THRESHOLD", d.AddressLockAfter), "failed sign-ins that lock a client address (IDP_LOCKOUT_ADDRESS_THRESHOLD)")
	fs.DurationVar(&l.BaseDelay, "lockout-delay", envDuration(env, "IDP_LOCKOUT_DELAY", d.BaseDelay), "first back-off delay (IDP_LOCKOUT_DELAY)")
	fs.DurationVar(&l.MaxDelay, "lockout-max-delay", envDuration(env, "IDP_LOCKOUT_MAX_DELAY", d.MaxDelay), "longest back-off delay (IDP_LOCKOUT_MAX_DELAY)")
	fs.DurationVar(&l.LockFor, "lockout-duration", envDuration(env, "IDP_LOCKOUT_DURATION", d.LockFor), "how long a lock lasts; idp users unlock ends it early (IDP_LOCKOUT_DURATION)")
	fs.DurationVar(&l.Window, "lockout-window", envDuration(env, "IDP_LOCKOUT_WINDOW", d.Window), "failures are forgotten this long after the last one (IDP_LOCKOUT_WINDOW)")
	fs.StringVar(&o.mfaRoles, "mfa-required-roles", envOr(env, "IDP_MFA_REQUIRED_ROLES", "admin"), "comma-separated roles that must use two-step verification (TOTP), or none (IDP_MFA_REQUIRED_ROLES)")
	fs.StringVar(&o.passkeyRoles, "passkey-required-roles", envOr(env, "IDP_PASSKEY_REQUIRED_ROLES", ""), "comma-separated roles that must sign in with a passkey (TOTP and recovery codes refused), or none (IDP_PASSKEY_REQUIRED_ROLES)")
	fs.StringVar(&o.mfaSecret, "mfa-encryption-key", envOr(env, "IDP_MFA_ENCRYPTION_KEY", ""), "secret that encrypts TOTP secrets at rest; default: the key encryption key (IDP_MFA_ENCRYPTION_KEY)")
}

// mfa returns the roles that require a second factor and the sealer of
// TOTP secrets: IDP_MFA_ENCRYPTION_KEY, else IDP_KEY_ENCRYPTION_KEY (with
// its own derived AES key), else none, with a warning.
func (o *hardeningOptions) mfa(log *slog.Logger, keyEncryption string, dev bool) ([]string, server.Sealer, error) {
	roles := roleList(o.mfaRoles)
	secret, setting := o.mfaSecret, "IDP_MFA_ENCRYPTION_KEY"
	if secret == "" {
		secret, setting = keyEncryption, "IDP_KEY_ENCRYPTION_KEY"
	}
	sealer, err := keys.NewSealerFor("mfa secret", "TOTP secret", setting, secret)
	if err != nil {
		return nil, nil, err
	}
	if !sealer.Encrypts() && !dev {
		log.Warn("TOTP secrets are stored unencrypted in the database; set IDP_MFA_ENCRYPTION_KEY or IDP_KEY_ENCRYPTION_KEY")
	}
	return roles, sealer, nil
}

// passkeys returns the roles that require a passkey.
func (o *hardeningOptions) passkeys() []string { return roleList(o.passkeyRoles) }

// roleList parses a comma-separated list of roles; "none" is none.
func roleList(s string) []string {
	return slices.DeleteFunc(accounts.SplitList(s, ","), func(r string) bool { return r == "none" })
}
