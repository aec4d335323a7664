package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/store"
)

// Check states, from good to bad.
const (
	CheckOK   = "ok"
	CheckInfo = "info"
	CheckWarn = "warn"
	CheckFail = "fail"
)

// CertificateWarning is how long before its certificate expires the
// active key wants a next one.
const CertificateWarning = 30 * 24 * time.Hour

// Check is one line of the setup and health checklist.
type Check struct {
	// ID names the check for people and tests: "flex-sp", "certificate",
	// "next-key", "no-role", "locked", "signins".
	ID string
	// State is CheckOK, CheckInfo, CheckWarn or CheckFail.
	State string
	// Text is the finding in a sentence; Fix says what to do, if anything.
	Text, Fix string
}

// Locked is a throttle key locked now: an account, a second factor or a
// client address.
type Locked struct {
	Key   string
	Until time.Time
	// Email is the account's (or the second factor's user's), "" for an
	// address.
	Email string
}

// Health is the admin console's setup and health checklist.
type Health struct {
	Checks []Check
	// Setup are the values to paste into the Twilio Console.
	Setup SetupValues
	// NoRole counts the users without a Flex role (Flex refuses them).
	NoRole int
	// Locked are the keys locked now.
	Locked []Locked
	// SignIns and Refusals count the sign-ins and the refused ones in the
	// last 24 hours.
	SignIns, Refusals int
}

// Health checks what an admin must see at a glance: a Flex service
// provider registered, the signing certificate's expiry and a next key,
// users without a role, locked accounts, and the last 24 hours of
// sign-ins. base and ks are the server's (its external URL, its keys).
func (s *Service) Health(ctx context.Context, base *url.URL, ks *saml.KeySet) (Health, error) {
	now := s.now()
	sps, err := s.ListSPs(ctx)
	if err != nil {
		return Health{}, err
	}
	h := Health{Setup: SetupValuesFor(base, ks, sps)}
	h.Checks = append(h.Checks, flexCheck(h.Setup))
	h.Checks = append(h.Checks, certificateChecks(h.Setup, now)...)

	if h.NoRole, err = s.st.CountUsers(ctx, store.UserFilter{NoRole: true, Disabled: new(bool)}); err != nil {
		return Health{}, err
	}
	c := Check{ID: "no-role", State: CheckOK, Text: "Every enabled user has a Flex role."}
	if h.NoRole > 0 {
		c = Check{ID: "no-role", State: CheckWarn, Text: fmt.Sprintf("%d enabled %s without a Flex role: Flex refuses them.", h.NoRole, plural(h.NoRole, "user", "users")),
			Fix: "Give them a role (agent, supervisor or admin) on the Users page."}
	}
	h.Checks = append(h.Checks, c)

	if h.Locked, err = s.LockedNow(ctx); err != nil {
		return Health{}, err
	}
	c = Check{ID: "locked", State: CheckOK, Text: "No account is locked."}
	if n := len(h.Locked); n > 0 {
		c = Check{ID: "locked", State: CheckWarn, Text: fmt.Sprintf("%d %s locked after failed sign-ins.", n, plural(n, "account or address is", "accounts or addresses are")),
			Fix: "Unlock a user on their page once you know the failures were theirs."}
	}
	h.Checks = append(h.Checks, c)

	day := store.AuditFilter{Since: now.Add(-24 * time.Hour)}
	day.Action = AuditSignIn
	if h.SignIns, err = s.st.CountAudit(ctx, day); err != nil {
		return Health{}, err
	}
	day.Action = AuditSignInFailure
	if h.Refusals, err = s.st.CountAudit(ctx, day); err != nil {
		return Health{}, err
	}
	c = Check{ID: "signins", State: CheckInfo, Text: fmt.Sprintf("Last 24 hours: %d %s, %d refused.", h.SignIns, plural(h.SignIns, "sign-in", "sign-ins"), h.Refusals)}
	if h.Refusals > 0 && h.Refusals >= h.SignIns {
		c.State, c.Fix = CheckWarn, "More sign-ins were refused than accepted: look at the audit log for an attack or a misconfigured client."
	}
	h.Checks = append(h.Checks, c)
	return h, nil
}

func flexCheck(v SetupValues) Check {
	var flex []string
	for _, p := range v.SPs {
		if p.Flex != "" {
			flex = append(flex, p.Label)
		}
	}
	if len(flex) == 0 {
		return Check{ID: "flex-sp", State: CheckFail, Text: "No Flex account is registered: nobody can sign in to Flex yet.",
			Fix: "Add Flex with the ACS URL from the Flex Console (idp sp add-flex --acs URL), then paste the values below into the Flex Console."}
	}
	return Check{ID: "flex-sp", State: CheckOK, Text: "Flex is registered: " + strings.Join(flex, ", ") + "."}
}

func certificateChecks(v SetupValues, now time.Time) []Check {
	if v.Active.PEM == "" {
		return []Check{{ID: "certificate", State: CheckFail, Text: "No signing key is active: no sign-in can be answered.", Fix: "Add and activate a key (idp keys add, idp keys activate)."}}
	}
	left := v.Active.Expires.Sub(now)
	day := v.Active.Expires.Format("2 January 2006")
	cert := Check{ID: "certificate", State: CheckOK, Text: fmt.Sprintf("The signing certificate expires on %s (in %d days).", day, int(left.Hours()/24))}
	switch {
	case left <= 0:
		cert.State, cert.Text = CheckFail, fmt.Sprintf("The signing certificate expired on %s: Flex refuses every sign-in.", day)
		cert.Fix = "Add a next key, activate it and paste its certificate into the Flex Console."
	case left <= CertificateWarning:
		cert.State = CheckWarn
		cert.Fix = "Add a next key now, and activate it before then."
	}
	next := Check{ID: "next-key", State: CheckInfo, Text: "No next key is published; add one before the certificate expires."}
	if len(v.Next) > 0 {
		next = Check{ID: "next-key", State: CheckOK, Text: fmt.Sprintf("A next key is published (expires on %s): activate it, then paste its certificate into the Flex Console.",
			v.Next[0].Expires.Format("2 January 2006"))}
	} else if cert.State != CheckOK {
		next.State = CheckWarn
	}
	return []Check{cert, next}
}

// LockedNow returns the throttle keys locked now, from the lockouts of the
// audit trail that may still hold (within LockFor), each checked against
// its throttle record (an unlock, or a lock that ended, is not listed).
func (s *Service) LockedNow(ctx context.Context) ([]Locked, error) {
	now := s.now()
	events, err := s.st.ListAudit(ctx, store.AuditFilter{Action: AuditLockout, Since: now.Add(-s.lockout.LockFor - time.Minute)})
	if err != nil {
		return nil, err
	}
	var out []Locked
	seen := map[string]bool{}
	for _, e := range events {
		var d struct {
			Keys []string `json:"keys"`
		}
		if json.Unmarshal(e.Details, &d) != nil {
			continue
		}
		for _, k := range d.Keys {
			if seen[k] {
				continue
			}
			seen[k] = true
			t, err := s.st.GetThrottle(ctx, k)
			if errors.Is(err, store.ErrNotFound) || err == nil && !t.LockedUntil.After(now) {
				continue
			} else if err != nil {
				return nil, err
			}
			l := Locked{Key: k, Until: t.LockedUntil}
			if !strings.HasPrefix(k, "ip:") {
				l.Email = e.Email
			}
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b Locked) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
