package users

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
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
		err := (PasswordPolicy{}).Check(c.password, c.email)
		if (err == nil) != c.ok {
			t.Errorf("Check(%q, %q) = %v, want ok=%v", c.password, c.email, err, c.ok)
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

// TestHasherWeighsLargeHashes: an argon2 hash that needs three times the
// memory of the Hasher's params takes three slots of the budget, so with
// one of three slots held it waits, and runs once that slot is free.
func TestHasherWeighsLargeHashes(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(fastParams, 3)
	large := Params{Memory: 3 * fastParams.Memory, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	enc, err := hashArgon2id(large, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.acquire(ctx); err != nil { // one slot of three
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ok, _, err := h.Verify(ctx, enc, "pw")
		if err == nil && !ok {
			err = errors.New("the right password was refused")
		}
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for h.QueueDepth() != 1 {
		select {
		case err := <-done:
			t.Fatalf("a hash needing 3 slots ran with only 2 free (err %v)", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the large hash never queued")
		}
		time.Sleep(time.Millisecond) // wait for the goroutine to queue, not a timing assertion
	}
	h.release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h.SlotsInUse() != 0 || h.QueueDepth() != 0 {
		t.Fatalf("after: %d slots in use, queue %d", h.SlotsInUse(), h.QueueDepth())
	}
}

// TestHasherSlotsFor: the weight of a hash is its memory in slots, at
// least one and at most the whole budget (it then runs alone).
func TestHasherSlotsFor(t *testing.T) {
	h := NewHasher(DefaultParams, 4)
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	for _, c := range []struct {
		enc  string
		want int64
	}{
		{string(bc), 1},
		{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo", 1},
		{"$argon2id$v=19$m=19457,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo", 2},
		{"$argon2id$v=19$m=65536,t=1,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo", 4},
		{"$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo", 1},
	} {
		if got := h.slotsFor(c.enc); got != c.want {
			t.Errorf("slotsFor(%s) = %d, want %d", c.enc, got, c.want)
		}
	}
	if got := NewHasher(DefaultParams, 2).slotsFor("$argon2id$v=19$m=65536,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo"); got != 2 {
		t.Errorf("a hash larger than the budget takes %d slots, want all 2", got)
	}
}

// TestHashLimits: the limits on imported hashes, with the limit named.
func TestHashLimits(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo"
	bc := func(cost int) string {
		// bcrypt.Cost reads the cost from the prefix only.
		h, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
		return fmt.Sprintf("$2b$%02d$%s", cost, string(h[7:]))
	}
	for _, c := range []struct {
		enc, want string // want "" for accepted
	}{
		{"$argon2id$v=19$m=65536,t=4,p=1$" + salt + "$" + key, ""}, // PHP's default
		{"$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$" + key, ""}, // argon2-cffi, node-argon2
		{"$argon2id$v=19$m=1048576,t=1,p=1$" + salt + "$" + key, "m=1048576 KiB is above 65536 KiB (64 MiB)"},
		{"$argon2id$v=19$m=1024,t=11,p=1$" + salt + "$" + key, "t=11 is above 10"},
		{"$argon2id$v=19$m=1024,t=1,p=8$" + salt + "$" + key, "p=8 is above 4"},
		{"$argon2id$v=19$m=65536,t=5,p=1$" + salt + "$" + key, "is above 64 MiB × 4"},
		{bc(4), ""},
		{bc(12), ""},
		{bc(13), "bcrypt cost 13 is outside 4 to 12"},
	} {
		err := CheckHash(c.enc)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckHash(%s) = %v, want nil", c.enc, err)
		case c.want != "" && (!errors.Is(err, ErrHashLimits) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("CheckHash(%s) = %v, want ErrHashLimits with %q", c.enc, err, c.want)
		}
	}
}

// TestHasherRefusesAtOnceBeyondDeadline: when the queue ahead cannot be
// served before the caller's deadline (WithDoneBy, less a hash) or the
// maximum wait, the caller is refused at once with the time the queue
// needs, instead of waiting to be refused or served too late.
func TestHasherRefusesAtOnceBeyondDeadline(t *testing.T) {
	enc, err := hashArgon2id(fastParams, "pw")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		doneBy  time.Duration // from now; 0 for none
		maxWait time.Duration
	}{
		{name: "deadline before the queue is served", doneBy: 4 * time.Second},
		{name: "no room for the hash itself", doneBy: 500 * time.Millisecond},
		{name: "maximum wait shorter than the queue", maxWait: 2 * time.Second},
		{name: "deadline later than the maximum wait", doneBy: time.Hour, maxWait: 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHasher(fastParams, 2)
			h.SetMaxWait(tc.maxWait)
			h.floor.observe(time.Second) // a hash holds a slot for a second now
			ctx := context.Background()
			if err := h.acquireN(ctx, 2); err != nil { // every slot held
				t.Fatal(err)
			}
			defer h.releaseN(2)
			h.waiting.Add(9) // nine callers queued ahead
			defer h.waiting.Add(-9)
			if tc.doneBy > 0 {
				ctx = WithDoneBy(ctx, time.Now().Add(tc.doneBy))
			}
			begin := time.Now()
			_, _, err := h.Verify(ctx, enc, "pw")
			took := time.Since(begin)
			var busy *BusyError
			if !errors.As(err, &busy) || !errors.Is(err, ErrBusy) {
				t.Fatalf("Verify = %v, want a *BusyError that is ErrBusy", err)
			}
			// Ten callers (nine and this one) at a second each, two at once.
			if want := 5 * time.Second; busy.RetryAfter != want {
				t.Errorf("RetryAfter = %s, want %s", busy.RetryAfter, want)
			}
			if took > 400*time.Millisecond {
				t.Errorf("refused after %s, want at once (it waited)", took)
			}
			if d := h.QueueDepth(); d != 9 {
				t.Errorf("QueueDepth = %d, want the 9 ahead only", d)
			}
		})
	}
}

// TestHasherWaitsWithinDeadline: a queue that can be served in time is
// waited for, and a slot freed meanwhile is taken.
func TestHasherWaitsWithinDeadline(t *testing.T) {
	h := NewHasher(fastParams, 1)
	h.floor.observe(10 * time.Millisecond)
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := WithDoneBy(context.Background(), time.Now().Add(time.Minute))
	got := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "pw")
		got <- err
	}()
	for h.QueueDepth() == 0 { // the caller is queued, not refused
		select {
		case err := <-got:
			t.Fatalf("Hash returned %v before a slot was free", err)
		default:
			runtime.Gosched()
		}
	}
	h.release()
	if err := <-got; err != nil {
		t.Fatalf("Hash = %v, want it served once the slot was free", err)
	}
}

// TestHasherExpect: callers announced (on their way to the queue, reading
// the store) count in the queue's estimate, so a burst is refused before
// it does other work; done takes a caller out once.
func TestHasherExpect(t *testing.T) {
	h := NewHasher(fastParams, 2)
	h.floor.observe(time.Second) // a hash holds a slot for a second now
	ctx := WithDoneBy(context.Background(), time.Now().Add(6500*time.Millisecond))
	// Budget: 6.5 s less a hash = 5.5 s; two at once, a second each: ten
	// callers announced fit (the tenth is served after 5 s), the
	// eleventh does not.
	var dones []func()
	for i := range 10 {
		done, err := h.Expect(ctx)
		if err != nil {
			t.Fatalf("caller %d: %v, want it announced", i+1, err)
		}
		dones = append(dones, done)
	}
	_, err := h.Expect(ctx)
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("caller 11: %v, want a *BusyError", err)
	}
	if want := 5500 * time.Millisecond; busy.RetryAfter != want {
		t.Errorf("RetryAfter = %s, want %s (the ten ahead and this one, two at once)", busy.RetryAfter, want)
	}
	dones[0]()
	dones[0]() // twice: counted out once
	if _, err := h.Expect(ctx); err != nil {
		t.Errorf("after one left: %v, want room for one", err)
	}
	if _, err := h.Expect(ctx); err == nil {
		t.Error("after one left and one came: room for another, want busy")
	}
	// Without a deadline or a maximum wait nobody is refused.
	if _, err := h.Expect(context.Background()); err != nil {
		t.Errorf("no deadline: %v", err)
	}
}
