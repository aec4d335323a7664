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

// Limits on parameters read from a stored hash, so an imported or tampered
// hash cannot make one verification take gigabytes or minutes.
const (
	maxMemoryKiB  = 1 << 20 // 1 GiB
	maxIterations = 64
	maxBcryptCost = 16
)

// ErrMalformedHash reports a stored hash that cannot be parsed.
var ErrMalformedHash = errors.New("users: malformed password hash")

// ErrUnsupportedHash reports a hash scheme flexidp cannot verify.
var ErrUnsupportedHash = errors.New("users: unsupported password hash scheme")

// Hasher hashes and verifies passwords. Hashing is memory-hard, so the
// number of hashes computed at once is bounded: a burst of sign-ins queues
// instead of exhausting memory. The zero value is not usable; use NewHasher.
type Hasher struct {
	params Params
	sem    chan struct{}
	dummy  string

	waiting atomic.Int64
	waitNS  atomic.Int64
	maxWait atomic.Int64
	once    sync.Once
}

// ErrBusy is returned when a caller waited longer than the Hasher's
// maximum wait for a hashing slot: the server is saturated and should
// answer "try again" rather than keep work nobody will receive.
var ErrBusy = errors.New("users: password hashing is saturated")

// SetMaxWait bounds how long a caller waits for a hashing slot before
// ErrBusy; 0 (the default) waits as long as the context allows.
func (h *Hasher) SetMaxWait(d time.Duration) { h.maxWait.Store(int64(d)) }

// NewHasher returns a Hasher with params that runs at most concurrency
// hashes at once (at least 1).
func NewHasher(params Params, concurrency int) *Hasher {
	if concurrency < 1 {
		concurrency = 1
	}
	return &Hasher{params: params, sem: make(chan struct{}, concurrency)}
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Concurrency returns how many hashes may run at once.
func (h *Hasher) Concurrency() int { return cap(h.sem) }

// QueueDepth returns how many callers are waiting for a hashing slot.
func (h *Hasher) QueueDepth() int64 { return h.waiting.Load() }

// TotalWait returns the cumulative time callers spent waiting for a slot.
func (h *Hasher) TotalWait() time.Duration { return time.Duration(h.waitNS.Load()) }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	start := time.Now()
	h.waiting.Add(1)
	defer func() {
		h.waiting.Add(-1)
		h.waitNS.Add(int64(time.Since(start)))
	}()
	var timeout <-chan time.Time
	if d := time.Duration(h.maxWait.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout:
		return ErrBusy
	}
}

func (h *Hasher) release() { <-h.sem }

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
// time with respect to the hash contents. needsRehash is true when the
// password matched but the hash is not argon2id with at least this
// Hasher's parameters (an imported bcrypt hash, or weaker parameters):
// the caller should store a fresh Hash.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error) {
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	return verify(h.params, encoded, password)
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
		if cost > maxBcryptCost {
			return false, false, fmt.Errorf("%w: bcrypt cost %d is above %d", ErrMalformedHash, cost, maxBcryptCost)
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
		if cost > maxBcryptCost {
			return fmt.Errorf("%w: bcrypt cost %d is above %d", ErrMalformedHash, cost, maxBcryptCost)
		}
		return nil
	default:
		return ErrUnsupportedHash
	}
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
	if p.Memory == 0 || p.Memory > maxMemoryKiB || p.Iterations == 0 || p.Iterations > maxIterations || par == 0 || par > 255 {
		return p, "", nil, nil, fmt.Errorf("%w: parameters %q out of range", ErrMalformedHash, parts[3])
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
