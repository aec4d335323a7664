package users

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fastParams keep tests quick; DefaultParams are checked separately.
var fastParams = Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestDefaultParamsMeetOWASP(t *testing.T) {
	p := DefaultParams
	if p.Memory < 19*1024 || p.Iterations < 2 || p.Parallelism < 1 {
		t.Fatalf("DefaultParams %+v are below OWASP m=19MiB,t=2,p=1", p)
	}
}

func TestHashPHCFormatAndVerify(t *testing.T) {
	h := NewHasher(DefaultParams, 2)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(enc) {
		t.Fatalf("hash %q is not a PHC argon2id string", enc)
	}
	ok, rehash, err := h.Verify(ctx, enc, "correct horse")
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, _, err = h.Verify(ctx, enc, "correct horsf")
	if err != nil || ok {
		t.Fatalf("Verify(wrong) = %v, %v; want false, nil", ok, err)
	}
	enc2, _ := h.Hash(ctx, "correct horse")
	if enc2 == enc {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
}

func TestVerifyUpgradesWeakerHashes(t *testing.T) {
	ctx := context.Background()
	weak, err := NewHasher(fastParams, 1).Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHasher(DefaultParams, 1)
	for name, enc := range map[string]string{"weaker argon2id": weak, "bcrypt": string(bc)} {
		t.Run(name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, enc, "pw")
			if err != nil || !ok || !rehash {
				t.Fatalf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(ctx, enc, "nope")
			if err != nil || ok || rehash {
				t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyRefusesBadHashes(t *testing.T) {
	h := NewHasher(fastParams, 1)
	for name, tc := range map[string]struct {
		enc  string
		want error
	}{
		"empty":          {"", ErrNoPassword},
		"md5":            {"$1$abc$def", ErrUnsupportedHash},
		"plain":          {"hunter2", ErrUnsupportedHash},
		"truncated":      {"$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ", ErrMalformedHash},
		"huge memory":    {"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo", ErrMalformedHash},
		"bad version":    {"$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo", ErrMalformedHash},
		"bad base64":     {"$argon2id$v=19$m=1024,t=1,p=1$!!!!$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo", ErrMalformedHash},
		"bcrypt garbage": {"$2b$10$short", ErrMalformedHash},
	} {
		t.Run(name, func(t *testing.T) {
			ok, _, err := h.Verify(context.Background(), tc.enc, "pw")
			if ok || !errors.Is(err, tc.want) {
				t.Fatalf("Verify(%q) = %v, %v; want false, %v", tc.enc, ok, err, tc.want)
			}
		})
	}
}

func TestCheckHash(t *testing.T) {
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	good, _ := NewHasher(fastParams, 1).Hash(context.Background(), "pw")
	for _, enc := range []string{string(bc), good} {
		if err := CheckHash(enc); err != nil {
			t.Errorf("CheckHash(%q) = %v, want nil", enc, err)
		}
	}
	for _, enc := range []string{"", "sha1:abc", "$2b$10$short", "$argon2id$v=19$m=1,t=1"} {
		if err := CheckHash(enc); err == nil {
			t.Errorf("CheckHash(%q) = nil, want an error", enc)
		}
	}
}

func TestHasherBoundsConcurrency(t *testing.T) {
	h := NewHasher(fastParams, 1)
	ctx := context.Background()
	// Hold the only slot, then check a second caller queues and a
	// cancelled caller gives up.
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer wg.Done()
		if _, err := h.Hash(ctx, "pw"); err != nil {
			t.Error(err)
		}
		close(done)
	}()
	for h.QueueDepth() != 1 {
		time.Sleep(time.Millisecond) // wait for the goroutine to queue, not a timing assertion
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Hash(cctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with cancelled ctx = %v, want context.Canceled", err)
	}
	select {
	case <-done:
		t.Fatal("second hash ran while the only slot was held")
	default:
	}
	h.release()
	wg.Wait()
	if h.QueueDepth() != 0 {
		t.Fatalf("QueueDepth = %d after all done", h.QueueDepth())
	}
}

func TestHasherMaxWait(t *testing.T) {
	h := NewHasher(fastParams, 1)
	h.SetMaxWait(10 * time.Millisecond)
	ctx := context.Background()
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash while saturated = %v, want ErrBusy", err)
	}
	h.release()
	if _, err := h.Hash(ctx, "pw"); err != nil {
		t.Fatalf("Hash with a free slot = %v", err)
	}
}

func TestVerifyDummyReturnsNoError(t *testing.T) {
	h := NewHasher(fastParams, 1)
	if err := h.VerifyDummy(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := NewHasher(DefaultParams, 1)
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for _, c := range []struct {
		password, email string
		ok              bool
	}{
		{"correct horse", "", true},
		{"1234567", "", false},
		{"éééééééé", "", true}, // 8 characters, 16 bytes
		{strings.Repeat("x", MaxPasswordBytes+1), "", false},
		{"Mary.Major@Example.com", "mary.major@example.com", false},
		{" mary.major ", "mary.major@example.com", false},
		{"mary.major@example.com!", "mary.major@example.com", true},
	} {
		err := CheckPassword(c.password, c.email)
		if (err == nil) != c.ok {
			t.Errorf("CheckPassword(%q, %q) = %v, want ok=%v", c.password, c.email, err, c.ok)
		}
	}
}

// TestHasherBurstQueues is a shift start in miniature: many sign-ins at
// once while every hashing slot is busy. They all wait (none fails, none
// runs beyond the limit) and all complete once slots free up.
func TestHasherBurstQueues(t *testing.T) {
	const slots, burst = 2, 40
	h := NewHasher(fastParams, slots)
	ctx := context.Background()
	for range slots {
		if err := h.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	finished := 0
	for range burst {
		wg.Go(func() {
			if _, err := h.Hash(ctx, "pw"); err != nil {
				t.Error(err)
			}
			mu.Lock()
			finished++
			mu.Unlock()
		})
	}
	for h.QueueDepth() != burst {
		time.Sleep(time.Millisecond) // wait for all to queue, not a timing assertion
	}
	mu.Lock()
	if finished != 0 {
		t.Fatalf("%d hashes ran while every slot was held", finished)
	}
	mu.Unlock()
	for range slots {
		h.release()
	}
	wg.Wait()
	if h.QueueDepth() != 0 || finished != burst {
		t.Fatalf("after the burst: queue %d, finished %d of %d", h.QueueDepth(), finished, burst)
	}
	if h.TotalWait() <= 0 {
		t.Fatal("TotalWait did not account for the queued callers")
	}
}
