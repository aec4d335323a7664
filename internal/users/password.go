package users

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params are argon2id parameters. Memory is in KiB.
type Params struct {
	Memory      uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// DefaultParams are the OWASP minimum for argon2id (m=19 MiB, t=2, p=1).
var DefaultParams = Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// Limits on the parameters of a stored hash (an imported one: flexidp's
// own hashes use DefaultParams). They bound what one verification may cost,
// in memory (MaxArgon2Memory) and in time: every sign-in is padded to the
// time of the slowest hash these limits allow (see Hasher.SetTimeFloor),
// so they also bound the latency of every sign-in. They cover what common
// libraries write by default (PHP's argon2id m=64 MiB,t=4,p=1; argon2-cffi
// and node-argon2 m=64 MiB,t=3,p=4; bcrypt cost 10 to 12 for Auth0, Okta,
// Devise and Laravel). Imports refuse a hash beyond them; sign-in refuses
// one that is in the database anyway.
const (
	// MaxArgon2Memory is the most memory (KiB) an argon2 hash may need.
	MaxArgon2Memory = 64 * 1024
	// MaxArgon2Iterations is the most passes (t) of an argon2 hash.
	MaxArgon2Iterations = 10
	// MaxArgon2Parallelism is the most lanes (p) of an argon2 hash.
	MaxArgon2Parallelism = 4
	// MaxArgon2Work bounds memory × passes (KiB): 64 MiB × 4 passes, so a
	// hash with t=10 must use at most 25.6 MiB.
	MaxArgon2Work = MaxArgon2Memory * 4
	// MinBcryptCost and MaxBcryptCost bound the cost of a bcrypt hash.
	MinBcryptCost = bcrypt.MinCost
	MaxBcryptCost = 12
)

// ErrMalformedHash reports a stored hash that cannot be parsed.
var ErrMalformedHash = errors.New("users: malformed password hash")

// ErrUnsupportedHash reports a hash scheme flexidp cannot verify.
var ErrUnsupportedHash = errors.New("users: unsupported password hash scheme")

// Hasher hashes and verifies passwords. Hashing is memory-hard, so the
// memory of the hashes computed at once is bounded: a burst of sign-ins
// queues instead of exhausting memory. The budget is counted in slots of
// the memory of one hash with the Hasher's params; a stored hash that needs
// more (an imported argon2 hash with a larger m) takes proportionally more
// slots, at most all of them. The zero value is not usable; use NewHasher.
type Hasher struct {
	params Params
	slots  int64 // the budget, in slots
	queue  slotQueue
	dummy  string

	inUse   atomic.Int64 // slots held
	done    atomic.Int64 // hashes finished
	waiting atomic.Int64
	waitNS  atomic.Int64
	maxWait atomic.Int64
	once    sync.Once
	// expected counts the callers that announced a hash (Expect) and have
	// not yet finished it: those still on their way to the queue (reading
	// the store first) count in the queue's estimate too.
	expected atomic.Int64

	floor floorState
}

// ErrBusy is returned when a caller waited longer than the Hasher's
// maximum wait for a hashing slot, or would have to (see WithDoneBy): the
// server is saturated and should answer "try again" rather than keep work
// nobody will receive. The error returned is a *BusyError.
var ErrBusy = errors.New("users: password hashing is saturated")

// BusyError is ErrBusy with the Hasher's estimate of when a slot will be
// free: the time the callers already waiting need to be served.
type BusyError struct {
	// RetryAfter is at least a second.
	RetryAfter time.Duration
}

func (e *BusyError) Error() string { return ErrBusy.Error() }

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// SetMaxWait bounds how long a caller waits for a hashing slot before
// ErrBusy; 0 (the default) waits as long as the context (and WithDoneBy)
// allows.
func (h *Hasher) SetMaxWait(d time.Duration) { h.maxWait.Store(int64(d)) }

// timeKey names a time a caller's context carries for the Hasher.
type timeKey int

const (
	doneByKey      timeKey = iota // WithDoneBy
	queuedSinceKey                // WithQueuedSince
)

// timeIn is the time ctx carries under k, if any.
func timeIn(ctx context.Context, k timeKey) (time.Time, bool) {
	t, ok := ctx.Value(k).(time.Time)
	return t, ok
}

// WithDoneBy returns ctx carrying the time by which a password hash or
// verification made with it must be over (including the padding to the
// time floor), so that the caller can still be answered in time: the HTTP
// server derives it from its write timeout. A caller that could not get a
// slot in time gets ErrBusy at once, or as soon as the time is up, rather
// than a hash for a client whose connection has been closed.
func WithDoneBy(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, doneByKey, t)
}

// DoneBy returns the time WithDoneBy put in ctx, if any.
func DoneBy(ctx context.Context) (time.Time, bool) { return timeIn(ctx, doneByKey) }

// hashTime is the Hasher's estimate of how long one hash of its params
// holds a slot now: the median of the last verifications (under the
// current load), or the calibration's measure before any; 0 when unknown.
func (h *Hasher) hashTime() time.Duration {
	h.floor.mu.Lock()
	defer h.floor.mu.Unlock()
	if len(h.floor.recent) > 0 {
		return Median(h.floor.recent)
	}
	return h.floor.ref
}

// queueTime estimates how long until a caller needing n slots, behind
// ahead callers already waiting, gets them: each of them holds a slot for
// about perHash, and the budget serves h.slots at once.
func (h *Hasher) queueTime(ahead, n int64, perHash time.Duration) time.Duration {
	return time.Duration(float64(perHash) * float64(ahead+n) / float64(h.slots))
}

// busy is the refusal of a caller needing n slots that asked first at
// since (see WithQueuedSince), with how long the callers ahead of it (those
// waiting or announced since earlier) will take, at least a second.
func (h *Hasher) busy(since time.Time, n int64) error {
	d := h.queueTime(h.ahead(since), n, h.hashTime())
	return &BusyError{RetryAfter: max(d, time.Second)}
}

// WithQueuedSince returns ctx carrying when its caller first asked for a
// hash and was told to come back (ErrBusy): the Hasher serves its callers
// oldest first, so a person who has waited is served before those who
// just arrived, and is refused only if those who asked before it could
// not be served in time. The HTTP server takes it from an authenticated
// ticket in the form it re-serves with "busy"; a caller without one asks
// now. A time in the future counts as now.
func WithQueuedSince(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, queuedSinceKey, t)
}

// QueuedSince returns the time WithQueuedSince put in ctx, if any.
func QueuedSince(ctx context.Context) (time.Time, bool) { return timeIn(ctx, queuedSinceKey) }

// since is when the caller of ctx asked first: WithQueuedSince's time,
// or now.
func since(ctx context.Context) time.Time {
	now := time.Now()
	if t, ok := QueuedSince(ctx); ok && t.Before(now) {
		return t
	}
	return now
}

// Expect announces a hash the caller is about to ask for (a sign-in,
// before it reads the store): it returns a *BusyError at once when the
// callers already waiting or announced would not be served before ctx's
// deadline (WithDoneBy) or the maximum wait, so that a saturated server
// refuses before doing any other work for the request. Otherwise the
// caller counts in the queue's estimate until it calls done.
//
// Only the callers ahead of this one count: those that asked before it
// (WithQueuedSince), so a caller who was told to come back is admitted
// before those who arrived since.
func (h *Hasher) Expect(ctx context.Context) (done func(), err error) {
	at := since(ctx)
	perHash := h.hashTime()
	if budget, bounded := h.waitBudget(ctx, perHash); bounded && h.queueTime(h.ahead(at), 1, perHash) > budget {
		return func() {}, h.busy(at, 1)
	}
	id := h.queue.announce(at)
	h.expected.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			h.queue.leave(id)
			h.expected.Add(-1)
		})
	}, nil
}

// ahead is how many callers the queue's estimate puts before one that
// asked first at since: those waiting for a slot, and those announced that
// are not yet holding one (the waiting ones among them are counted once),
// less those that asked after since (whom it goes before).
func (h *Hasher) ahead(since time.Time) int64 {
	waitingAfter, announcedAfter := h.queue.after(since)
	waiting := h.waiting.Load() - waitingAfter
	onTheirWay := h.expected.Load() - announcedAfter - h.inUse.Load() // announced, not hashing now
	return max(waiting, onTheirWay, 0)
}

// waitBudget is how long a caller may wait for a slot: the maximum wait,
// and the time left before its deadline (WithDoneBy) less the hash and the
// padding to the time floor that follow. bounded is false when neither
// applies.
func (h *Hasher) waitBudget(ctx context.Context, perHash time.Duration) (d time.Duration, bounded bool) {
	if mw := time.Duration(h.maxWait.Load()); mw > 0 {
		d, bounded = mw, true
	}
	if by, ok := DoneBy(ctx); ok {
		left := time.Until(by) - max(perHash, h.floor.current())
		if !bounded || left < d {
			d, bounded = left, true
		}
	}
	return d, bounded
}

// NewHasher returns a Hasher with params that runs at most concurrency
// hashes with those params at once (at least 1).
func NewHasher(params Params, concurrency int) *Hasher {
	if concurrency < 1 {
		concurrency = 1
	}
	return &Hasher{params: params, slots: int64(concurrency), queue: slotQueue{free: int64(concurrency)}}
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Concurrency returns how many hashes with the Hasher's params may run at
// once: the memory budget in slots.
func (h *Hasher) Concurrency() int { return int(h.slots) }

// SlotsInUse returns how many slots of the budget running hashes hold.
func (h *Hasher) SlotsInUse() int64 { return h.inUse.Load() }

// Done returns how many hashes (and verifications) have finished: each
// left its memory, a new allocation, to the garbage collector.
func (h *Hasher) Done() int64 { return h.done.Load() }

// QueueDepth returns how many callers are waiting for a hashing slot.
func (h *Hasher) QueueDepth() int64 { return h.waiting.Load() }

// TotalWait returns the cumulative time callers spent waiting for a slot.
func (h *Hasher) TotalWait() time.Duration { return time.Duration(h.waitNS.Load()) }

// slotsFor is how many slots verifying encoded takes: its argon2 memory
// over the memory of one slot, rounded up, at least 1 (bcrypt needs 4 KiB)
// and at most the whole budget (so it runs alone rather than never).
func (h *Hasher) slotsFor(encoded string) int64 {
	if !strings.HasPrefix(encoded, "$argon2") {
		return 1
	}
	p, _, _, _, err := parseArgon2(encoded)
	if err != nil {
		return 1 // refused without hashing
	}
	per := uint64(max(h.params.Memory, 1))
	n := int64((uint64(p.Memory) + per - 1) / per)
	return min(max(n, 1), h.slots)
}

// ownPrefix is how the hashes of the Hasher's params begin.
func (h *Hasher) ownPrefix() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$", argon2.Version, h.params.Memory, h.params.Iterations, h.params.Parallelism)
}

func (h *Hasher) acquire(ctx context.Context) error { return h.acquireN(ctx, 1) }

func (h *Hasher) release() { h.releaseN(1) }

func (h *Hasher) acquireN(ctx context.Context, n int64) error {
	at := since(ctx)
	if h.queue.tryAcquire(n, at) {
		h.inUse.Add(n)
		return nil
	}
	perHash := h.hashTime()
	budget, bounded := h.waitBudget(ctx, perHash)
	waitingAfter, _ := h.queue.after(at)
	if bounded && (budget <= 0 || h.queueTime(h.waiting.Load()-waitingAfter, n, perHash) > budget) {
		// The queue ahead will not be served in time: say so now rather
		// than after the wait, or to a closed connection.
		return h.busy(at, n)
	}
	start := time.Now()
	h.waiting.Add(1)
	defer func() {
		h.waiting.Add(-1)
		h.waitNS.Add(int64(time.Since(start)))
	}()
	wctx := ctx
	if bounded {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	if err := h.queue.acquire(wctx, n, at); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return h.busy(at, n)
	}
	h.inUse.Add(n)
	return nil
}

func (h *Hasher) releaseN(n int64) {
	h.done.Add(1)
	h.inUse.Add(-n)
	h.queue.release(n)
}

// Hash returns the PHC string of password hashed with argon2id:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded base64).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return hashArgon2id(h.params, password)
}

func hashArgon2id(p Params, password string) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var b64 = base64.RawStdEncoding

// Verify reports whether password matches the stored hash, in constant
// time with respect to the hash contents, and in at least the Hasher's
// time floor (see SetTimeFloor) whatever the kind and cost of the hash. needsRehash is true when the
// password matched but the hash is not argon2id with at least this
// Hasher's parameters (an imported bcrypt hash, or weaker parameters):
// the caller should store a fresh Hash.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error) {
	n := h.slotsFor(encoded)
	if err := h.acquireN(ctx, n); err != nil {
		return false, false, err
	}
	start := time.Now()
	ok, needsRehash, err = verify(h.params, encoded, password)
	if strings.HasPrefix(encoded, h.ownPrefix()) {
		h.floor.observe(time.Since(start))
	}
	h.releaseN(n)
	// The queue wait is left out: it depends on the load, not on the
	// account, and the floor is for the work of the hash.
	h.floor.pad(ctx, start)
	return ok, needsRehash, err
}

// VerifyDummy spends the time and memory of a real verification and
// returns false. Sign-in calls it when the email is unknown, so response
// time does not reveal which accounts exist.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	h.once.Do(func() {
		h.dummy, _ = hashArgon2id(h.params, "flexidp-dummy-password")
	})
	_, _, err := h.Verify(ctx, h.dummy, password+"\x00")
	return err
}

func verify(current Params, encoded, password string) (ok, needsRehash bool, err error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"), strings.HasPrefix(encoded, "$argon2i$"):
		p, variant, salt, want, err := parseArgon2(encoded)
		if err != nil {
			return false, false, err
		}
		var got []byte
		if variant == "argon2id" {
			got = argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(want)))
		} else {
			got = argon2.Key([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(want)))
		}
		if subtle.ConstantTimeCompare(got, want) != 1 {
			return false, false, nil
		}
		weaker := variant != "argon2id" || p.Memory < current.Memory || p.Iterations < current.Iterations ||
			p.Parallelism < current.Parallelism || uint32(len(want)) < current.KeyLen || uint32(len(salt)) < current.SaltLen
		return true, weaker, nil
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		cost, err := bcrypt.Cost([]byte(encoded))
		if err != nil {
			return false, false, fmt.Errorf("%w: %v", ErrMalformedHash, err)
		}
		if err := checkBcryptCost(cost); err != nil {
			return false, false, err
		}
		// bcrypt.CompareHashAndPassword compares in constant time.
		switch err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password)); {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, false, nil
		default:
			return false, false, fmt.Errorf("%w: %v", ErrMalformedHash, err)
		}
	case encoded == "":
		return false, false, ErrNoPassword
	default:
		return false, false, ErrUnsupportedHash
	}
}

// CheckHash reports whether encoded is a hash flexidp can verify (argon2id,
// argon2i or bcrypt), with parameters within safe limits. Imports call it
// so that a file with an unsupported hash is refused before anything is
// written.
func CheckHash(encoded string) error {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"), strings.HasPrefix(encoded, "$argon2i$"):
		_, _, _, _, err := parseArgon2(encoded)
		return err
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		cost, err := bcrypt.Cost([]byte(encoded))
		if err != nil || len(encoded) != 60 {
			return fmt.Errorf("%w: not a bcrypt hash", ErrMalformedHash)
		}
		return checkBcryptCost(cost)
	default:
		return ErrUnsupportedHash
	}
}

// ErrHashLimits reports a hash whose parameters are beyond the limits
// (MaxArgon2Memory, MaxArgon2Iterations, MaxArgon2Parallelism,
// MaxArgon2Work, MinBcryptCost, MaxBcryptCost). It wraps ErrMalformedHash.
var ErrHashLimits = fmt.Errorf("%w: parameters beyond flexidp's limits", ErrMalformedHash)

func checkArgon2Limits(m, t, p uint32) error {
	var why string
	switch {
	case m > MaxArgon2Memory:
		why = fmt.Sprintf("argon2 memory m=%d KiB is above %d KiB (%d MiB)", m, MaxArgon2Memory, MaxArgon2Memory/1024)
	case t > MaxArgon2Iterations:
		why = fmt.Sprintf("argon2 passes t=%d is above %d", t, MaxArgon2Iterations)
	case p > MaxArgon2Parallelism:
		why = fmt.Sprintf("argon2 parallelism p=%d is above %d", p, MaxArgon2Parallelism)
	case uint64(m)*uint64(t) > MaxArgon2Work:
		why = fmt.Sprintf("argon2 memory × passes (m=%d KiB × t=%d) is above %d MiB × 4", m, t, MaxArgon2Memory/1024)
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrHashLimits, why)
}

func checkBcryptCost(cost int) error {
	if cost < MinBcryptCost || cost > MaxBcryptCost {
		return fmt.Errorf("%w: bcrypt cost %d is outside %d to %d", ErrHashLimits, cost, MinBcryptCost, MaxBcryptCost)
	}
	return nil
}

func parseArgon2(encoded string) (p Params, variant string, salt, key []byte, err error) {
	// $argon2id$v=19$m=19456,t=2,p=1$salt$hash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, "", nil, nil, ErrMalformedHash
	}
	variant = parts[1]
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, "", nil, nil, fmt.Errorf("%w: unsupported argon2 version %q", ErrMalformedHash, parts[2])
	}
	var par uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Iterations, &par); err != nil || n != 3 {
		return p, "", nil, nil, fmt.Errorf("%w: bad parameters %q", ErrMalformedHash, parts[3])
	}
	if p.Memory == 0 || p.Iterations == 0 || par == 0 {
		return p, "", nil, nil, fmt.Errorf("%w: parameters %q out of range", ErrMalformedHash, parts[3])
	}
	if err := checkArgon2Limits(p.Memory, p.Iterations, par); err != nil {
		return p, "", nil, nil, err
	}
	p.Parallelism = uint8(par)
	if salt, err = b64.DecodeString(strings.TrimRight(parts[4], "=")); err != nil || len(salt) < 8 {
		return p, "", nil, nil, fmt.Errorf("%w: bad salt", ErrMalformedHash)
	}
	if key, err = b64.DecodeString(strings.TrimRight(parts[5], "=")); err != nil || len(key) < 16 || len(key) > 128 {
		return p, "", nil, nil, fmt.Errorf("%w: bad hash", ErrMalformedHash)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, variant, salt, key, nil
}
