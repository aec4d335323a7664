package accounts

import (
	"context"
	"errors"
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

// WithDefaults returns p with its zero fields set from DefaultLockout.
func (p LockoutPolicy) WithDefaults() LockoutPolicy {
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

// Rule is a throttle key and its thresholds.
type Rule struct {
	key                     string
	backoffAfter, lockAfter int
	// reserve lets an attempt through only while the key's failures and
	// its attempts in flight together are below lockAfter, and holds that
	// place until the attempt is decided: a failure keeps it as a
	// failure, a success or a refund gives it back. Accounts and second
	// factors reserve, so parallel guesses on several replicas cannot
	// slip past the limit; the back-off delay looks at decided failures
	// only, so concurrent correct sign-ins of one account are not taken
	// for failures. A client address is only read, and counted when an
	// attempt fails: a contact centre signs a whole shift in from one NAT
	// address at once.
	reserve bool
}

// AccountRule throttles the sign-ins of an account, by email.
func (s *Service) AccountRule(email string) Rule {
	return Rule{AccountKey(email), s.lockout.BackoffAfter, s.lockout.LockAfter, true}
}

// AddressRule throttles the failed sign-ins from a client address.
func (s *Service) AddressRule(ip string) Rule {
	return Rule{AddressKey(ip), s.lockout.AddressBackoffAfter, s.lockout.AddressLockAfter, false}
}

// MFARule throttles the second-factor codes of a user.
func (s *Service) MFARule(userID string) Rule {
	return Rule{MFAKey(userID), s.lockout.BackoffAfter, s.lockout.LockAfter, true}
}

var errThrottled = errors.New("throttled")

// inFlightFor is how long an attempt may stay in flight before it is
// taken as lost (its replica stopped before deciding it) and its place is
// given back. It is far longer than an attempt can take and still answer
// its client: the HTTP server's write timeout is 30 seconds.
const inFlightFor = 5 * time.Minute

// settleTimeout bounds the store writes that record how an attempt ended.
const settleTimeout = 30 * time.Second

// admission is the outcome of Admit for one rule.
type admission struct {
	rule Rule
	// wait > 0: the attempt is refused for that long.
	wait time.Duration
	// locks: the failed attempt locked the key (set by failed).
	locks bool
	// crowded: refused only for the attempts in flight (see crowded).
	crowded bool
}

// refusal returns how long t still refuses attempts under rule; whether
// only the attempts in flight refuse it (crowded: many at once, nothing
// failed); and t reset when its lock ended or its failures are older than
// the window, and without the attempts in flight that were lost. now must be read
// after t, so that it is not earlier than the times t holds; the waits
// are capped all the same, as replicas' clocks may differ a little.
func (p LockoutPolicy) refusal(t store.Throttle, rule Rule, now time.Time) (wait time.Duration, crowded bool, _ store.Throttle) {
	if now.Before(t.LockedUntil) {
		return min(t.LockedUntil.Sub(now), p.LockFor), false, t
	}
	if !t.LockedUntil.IsZero() || now.Sub(t.LastFailure) > p.Window {
		// The lock ended, or the failures are old.
		t.Failures, t.LastFailure, t.LockedUntil = 0, time.Time{}, time.Time{}
	}
	if t.InFlight > 0 && now.Sub(t.LastAttempt) > inFlightFor {
		t.InFlight = 0
	}
	if d := p.delay(t.Failures, rule.backoffAfter); d > 0 && now.Before(t.LastFailure.Add(d)) {
		return min(t.LastFailure.Add(d).Sub(now), d), false, t
	}
	if rule.reserve && t.Failures+t.InFlight >= rule.lockAfter {
		// Were the attempts in flight all to fail, they would lock the
		// key: wait until they are decided.
		return p.BaseDelay, true, t
	}
	return 0, false, t
}

// count adds a failure to t under rule and reports whether it locks.
func (p LockoutPolicy) count(t store.Throttle, rule Rule, now time.Time) (store.Throttle, bool) {
	t.Failures++
	t.LastFailure = now
	if t.Failures >= rule.lockAfter {
		t.LockedUntil = now.Add(p.LockFor)
		return t, true
	}
	return t, false
}

// release gives back the place of one attempt in flight.
func release(t store.Throttle) store.Throttle {
	t.InFlight = max(t.InFlight-1, 0)
	return t
}

// Admit lets an attempt through, or refuses it with *ThrottledError unless a rule refuses it (locked, within
// its back-off delay, or, for rules that reserve, no place left under the
// lock threshold); a refused attempt is not counted. Rules that reserve
// take a place in flight now; the others are only read. The caller closes
// the Attempt once it is decided.
func (s *Service) Admit(ctx context.Context, rules ...Rule) (*Attempt, error) {
	p := s.lockout
	out := make([]admission, 0, len(rules))
	var wait time.Duration
	var crowded, failures bool
	for _, rule := range rules {
		a := admission{rule: rule}
		var err error
		if rule.reserve {
			_, err = s.st.UpdateThrottle(ctx, rule.key, func(t store.Throttle) (store.Throttle, error) {
				now := s.now() // read under the record's lock
				a.wait, a.crowded, t = p.refusal(t, rule, now)
				if a.wait > 0 {
					return t, errThrottled
				}
				t.InFlight++
				t.LastAttempt = now
				return t, nil
			})
		} else {
			t, gerr := s.st.GetThrottle(ctx, rule.key)
			switch {
			case errors.Is(gerr, store.ErrNotFound):
			case gerr != nil:
				err = gerr
			default:
				if a.wait, _, _ = p.refusal(t, rule, s.now()); a.wait > 0 {
					err = errThrottled
				}
			}
		}
		if errors.Is(err, errThrottled) {
			wait = max(wait, a.wait)
			crowded = crowded || a.crowded
			failures = failures || !a.crowded
			continue
		}
		if err != nil {
			s.refund(ctx, out)
			return nil, err
		}
		out = append(out, a)
	}
	if wait > 0 {
		// Refused by one rule: give back the places the others took.
		s.refund(ctx, out)
		return nil, &ThrottledError{Wait: wait, Crowded: crowded && !failures}
	}
	return &Attempt{s: s, as: out}, nil
}

// Attempt is an attempt Admit let through; exactly one of Succeeded,
// Failed and Refund closes it.
type Attempt struct {
	s  *Service
	as []admission
}

// Succeeded closes a successful attempt (see succeeded).
func (a *Attempt) Succeeded(ctx context.Context) { a.s.succeeded(ctx, a.as) }

// Failed closes a failed attempt and returns the keys it locked.
func (a *Attempt) Failed(ctx context.Context) []string {
	a.s.failed(ctx, a.as)
	return lockouts(a.as)
}

// Refund closes an attempt that was neither (an internal error, a busy
// server): it gives back the places it took.
func (a *Attempt) Refund(ctx context.Context) { a.s.refund(ctx, a.as) }

// settle updates the record of each admission (of those whose rule
// reserves, with onlyReserved) with a context that outlives the request:
// a client that hangs up must not leave its failure uncounted or its
// place held.
func (s *Service) settle(ctx context.Context, as []admission, onlyReserved bool, what string, update func(a *admission, t store.Throttle, now time.Time) store.Throttle) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	for i := range as {
		a := &as[i]
		if onlyReserved && !a.rule.reserve {
			continue
		}
		_, err := s.st.UpdateThrottle(ctx, a.rule.key, func(t store.Throttle) (store.Throttle, error) {
			return update(a, t, s.now()), nil
		})
		if err != nil {
			s.log.WarnContext(ctx, what, "err", err)
		}
	}
}

// succeeded closes the attempts admit let through after a success: the
// account (or second factor) gives back its place and starts afresh; the
// other attempts still in flight keep theirs. An address is left as it
// is, so one good sign-in does not wipe out another person's failures.
func (s *Service) succeeded(ctx context.Context, as []admission) {
	s.settle(ctx, as, true, "reset throttle", func(_ *admission, t store.Throttle, _ time.Time) store.Throttle {
		t = release(t)
		t.Failures, t.LastFailure, t.LockedUntil = 0, time.Time{}, time.Time{}
		return t
	})
}

// failed counts a failed attempt against every rule: a reserved place
// becomes a failure. It marks in as which keys it locked.
func (s *Service) failed(ctx context.Context, as []admission) {
	p := s.lockout
	s.settle(ctx, as, false, "count failed sign-in", func(a *admission, t store.Throttle, now time.Time) store.Throttle {
		_, _, t = p.refusal(t, a.rule, now)
		if a.rule.reserve {
			t = release(t)
		}
		t, a.locks = p.count(t, a.rule, now)
		return t
	})
}

// refund gives back the places admit took, when the attempt was neither
// a success nor a failure (an internal error, another rule refused it).
func (s *Service) refund(ctx context.Context, as []admission) {
	s.settle(ctx, as, true, "refund throttle", func(_ *admission, t store.Throttle, _ time.Time) store.Throttle {
		return release(t)
	})
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
