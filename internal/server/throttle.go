package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

// LockoutPolicy throttles failed sign-ins, per account and per client
// address, in the store, so that it holds across replicas. After
// BackoffAfter failures each further attempt must wait BaseDelay, doubled
// per failure up to MaxDelay; at LockAfter failures the key is locked for
// LockFor. Failures are forgotten Window after the last one, and when a
// lock ends. A client address gets higher thresholds: a contact centre
// signs its whole shift in from one address behind NAT.
type LockoutPolicy struct {
	BackoffAfter, LockAfter               int
	AddressBackoffAfter, AddressLockAfter int
	BaseDelay, MaxDelay                   time.Duration
	LockFor, Window                       time.Duration
}

// DefaultLockout is the policy of a zero LockoutPolicy's fields.
var DefaultLockout = LockoutPolicy{
	BackoffAfter: 3, LockAfter: 10,
	AddressBackoffAfter: 100, AddressLockAfter: 1000,
	BaseDelay: time.Second, MaxDelay: 30 * time.Second,
	LockFor: 15 * time.Minute, Window: time.Hour,
}

func (p LockoutPolicy) withDefaults() LockoutPolicy {
	d := DefaultLockout
	for _, f := range []struct{ v, def *int }{{&p.BackoffAfter, &d.BackoffAfter}, {&p.LockAfter, &d.LockAfter},
		{&p.AddressBackoffAfter, &d.AddressBackoffAfter}, {&p.AddressLockAfter, &d.AddressLockAfter}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	for _, f := range []struct{ v, def *time.Duration }{{&p.BaseDelay, &d.BaseDelay}, {&p.MaxDelay, &d.MaxDelay},
		{&p.LockFor, &d.LockFor}, {&p.Window, &d.Window}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return p
}

// delay is how long an attempt must wait after the last of failures.
func (p LockoutPolicy) delay(failures, backoffAfter int) time.Duration {
	if failures < backoffAfter {
		return 0
	}
	return min(p.BaseDelay<<min(failures-backoffAfter, 20), p.MaxDelay)
}

// Throttle keys, exported for `idp users unlock`. Emails are lower-cased.
func accountKey(email string) string { return "acct:" + strings.ToLower(email) }
func addressKey(ip string) string    { return "ip:" + ip }
func mfaKey(userID string) string    { return "mfa:" + userID }

// AccountThrottleKey, AddressThrottleKey and MFAThrottleKey are the store
// keys of the throttles of an account (by email), a client address and a
// user's second factor.
func AccountThrottleKey(email string) string { return accountKey(email) }

// AddressThrottleKey: see AccountThrottleKey.
func AddressThrottleKey(ip string) string { return addressKey(ip) }

// MFAThrottleKey: see AccountThrottleKey.
func MFAThrottleKey(userID string) string { return mfaKey(userID) }

// throttleRule is a key and its thresholds.
type throttleRule struct {
	key                     string
	backoffAfter, lockAfter int
	// countFirst counts the attempt before it is checked. Accounts and
	// second factors are counted first, so parallel guesses on several
	// replicas cannot slip past the limit. A client address is counted
	// only when an attempt fails: a contact centre signs a whole shift in
	// from one NAT address at once, and its concurrent, correct sign-ins
	// must not look like guesses.
	countFirst bool
}

func (s *Server) accountRule(email string) throttleRule {
	return throttleRule{accountKey(email), s.cfg.Lockout.BackoffAfter, s.cfg.Lockout.LockAfter, true}
}

func (s *Server) addressRule(r *http.Request) throttleRule {
	return throttleRule{addressKey(s.clientIP(r)), s.cfg.Lockout.AddressBackoffAfter, s.cfg.Lockout.AddressLockAfter, false}
}

func (s *Server) mfaRule(userID string) throttleRule {
	return throttleRule{mfaKey(userID), s.cfg.Lockout.BackoffAfter, s.cfg.Lockout.LockAfter, true}
}

var errThrottled = errors.New("throttled")

// admission is the outcome of admit for one rule.
type admission struct {
	rule throttleRule
	// wait > 0: the attempt is refused for that long.
	wait time.Duration
	// locks: should this attempt fail, the key is now locked.
	locks bool
}

// refusal returns how long t still refuses attempts under rule, and t
// reset when its lock ended or its failures are older than the window.
func (p LockoutPolicy) refusal(t store.Throttle, rule throttleRule, now time.Time) (time.Duration, store.Throttle) {
	if now.Before(t.LockedUntil) {
		return t.LockedUntil.Sub(now), t
	}
	if !t.LockedUntil.IsZero() || now.Sub(t.LastFailure) > p.Window {
		t = store.Throttle{Key: t.Key} // the lock ended, or failures are old
	}
	if until := t.LastFailure.Add(p.delay(t.Failures, rule.backoffAfter)); now.Before(until) {
		return until.Sub(now), t
	}
	return 0, t
}

// count adds a failure to t under rule and reports whether it locks.
func (p LockoutPolicy) count(t store.Throttle, rule throttleRule, now time.Time) (store.Throttle, bool) {
	t.Failures++
	t.LastFailure = now
	if t.Failures >= rule.lockAfter {
		t.LockedUntil = now.Add(p.LockFor)
		return t, true
	}
	return t, false
}

// admit lets an attempt through unless a rule refuses it (locked, or
// within its back-off delay); a refused attempt is not counted. Rules with
// countFirst count the attempt now, pessimistically; the others are only
// read. The caller calls succeeded or failed once the attempt is decided.
func (s *Server) admit(ctx context.Context, rules ...throttleRule) ([]admission, time.Duration, error) {
	p := s.cfg.Lockout
	now := s.now()
	out := make([]admission, 0, len(rules))
	var wait time.Duration
	for _, rule := range rules {
		a := admission{rule: rule}
		var err error
		if rule.countFirst {
			_, err = s.store.UpdateThrottle(ctx, rule.key, func(t store.Throttle) (store.Throttle, error) {
				a.wait, t = p.refusal(t, rule, now)
				if a.wait > 0 {
					return t, errThrottled
				}
				t, a.locks = p.count(t, rule, now)
				return t, nil
			})
		} else {
			t, gerr := s.store.GetThrottle(ctx, rule.key)
			switch {
			case errors.Is(gerr, store.ErrNotFound):
			case gerr != nil:
				err = gerr
			default:
				if a.wait, _ = p.refusal(t, rule, now); a.wait > 0 {
					err = errThrottled
				}
			}
		}
		if errors.Is(err, errThrottled) {
			wait = max(wait, a.wait)
			continue
		}
		if err != nil {
			s.refund(ctx, out)
			return nil, 0, err
		}
		out = append(out, a)
	}
	if wait > 0 {
		// Refused by one rule: give back what the others counted.
		s.refund(ctx, out)
		return nil, wait, nil
	}
	return out, 0, nil
}

// succeeded closes the attempts admit let through after a success: the
// account (or second factor) starts afresh; an address is left as it is,
// so one good sign-in does not wipe out another person's failures.
func (s *Server) succeeded(ctx context.Context, as []admission) {
	for _, a := range as {
		if !a.rule.countFirst {
			continue
		}
		if err := s.store.DeleteThrottle(ctx, a.rule.key); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.WarnContext(ctx, "reset throttle", "err", err)
		}
	}
}

// failed counts a failed attempt against the rules admit only read, and
// marks in as which keys it locked.
func (s *Server) failed(ctx context.Context, as []admission) {
	p := s.cfg.Lockout
	now := s.now()
	for i := range as {
		a := &as[i]
		if a.rule.countFirst {
			continue
		}
		_, err := s.store.UpdateThrottle(ctx, a.rule.key, func(t store.Throttle) (store.Throttle, error) {
			_, t = p.refusal(t, a.rule, now)
			t, a.locks = p.count(t, a.rule, now)
			return t, nil
		})
		if err != nil {
			s.log.WarnContext(ctx, "count failed sign-in", "err", err)
		}
	}
}

// refund takes back the attempt admit counted (countFirst rules), when it
// was neither a success nor a failure (an internal error, another rule
// refused it).
func (s *Server) refund(ctx context.Context, as []admission) {
	for _, a := range as {
		if !a.rule.countFirst {
			continue
		}
		_, err := s.store.UpdateThrottle(ctx, a.rule.key, func(t store.Throttle) (store.Throttle, error) {
			if t.Failures > 0 {
				t.Failures--
			}
			if t.Failures < a.rule.lockAfter {
				t.LockedUntil = time.Time{}
			}
			return t, nil
		})
		if err != nil {
			s.log.WarnContext(ctx, "refund throttle", "err", err)
		}
	}
}

// lockouts returns the keys the failed attempt locked, for the audit log.
func lockouts(as []admission) []string {
	var keys []string
	for _, a := range as {
		if a.locks {
			keys = append(keys, a.rule.key)
		}
	}
	return keys
}

// retryAfter formats a wait for the Retry-After header and the page.
func retryAfter(w http.ResponseWriter, d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return (time.Duration(secs) * time.Second).String()
}
