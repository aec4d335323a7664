package users

import (
	"context"
	"os"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// timingSamples is how many sign-ins of each kind the timing test times:
// a few in normal runs, FLEXIDP_TIMING_SAMPLES (e.g. 50) for the figures
// quoted in SECURITY.md.
func timingSamples(t *testing.T) int {
	t.Helper()
	if s := os.Getenv("FLEXIDP_TIMING_SAMPLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FLEXIDP_TIMING_SAMPLES=%q: want a positive number", s)
		}
		return n
	}
	return 7
}

// signInKind is one kind of account a sign-in may hit.
type signInKind struct {
	name   string
	verify func(ctx context.Context, h *Hasher) error
}

func timingKinds(t *testing.T, h *Hasher) []signInKind {
	t.Helper()
	ctx := context.Background()
	argon, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	kinds := []signInKind{
		{"unknown user", func(ctx context.Context, h *Hasher) error { return h.VerifyDummy(ctx, "guess") }},
		{"argon2id (default)", func(ctx context.Context, h *Hasher) error { _, _, err := h.Verify(ctx, argon, "guess"); return err }},
	}
	for _, cost := range []int{4, 10} {
		bc, err := bcrypt.GenerateFromPassword([]byte("correct horse battery"), cost)
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, signInKind{"bcrypt cost " + strconv.Itoa(cost), func(ctx context.Context, h *Hasher) error {
			_, _, err := h.Verify(ctx, string(bc), "guess")
			return err
		}})
	}
	return kinds
}

// timeKinds returns the median time of a wrong password for each kind,
// the kinds taking turns so that a change of load hits them all alike.
func timeKinds(t *testing.T, h *Hasher, kinds []signInKind, samples int) []time.Duration {
	t.Helper()
	ctx := context.Background()
	times := make([][]time.Duration, len(kinds))
	for range samples {
		for i, k := range kinds {
			start := time.Now()
			if err := k.verify(ctx, h); err != nil {
				t.Fatalf("%s: %v", k.name, err)
			}
			times[i] = append(times[i], time.Since(start))
		}
	}
	medians := make([]time.Duration, len(kinds))
	for i := range kinds {
		medians[i] = Median(times[i])
	}
	return medians
}

// TestSignInTimeIsTheSameForEveryHash: a wrong password for an unknown
// email, an argon2id account and imported bcrypt accounts of cost 4 and 10
// take the same time (medians within 25%, robust on a loaded 2-core
// machine), once the floor is set from the slowest of them. Without the
// floor bcrypt cost 4 takes a few ms and cost 10 about twice argon2id.
// FLEXIDP_TIMING_SAMPLES=50 gives the figures in SECURITY.md, with and
// without the floor.
func TestSignInTimeIsTheSameForEveryHash(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("times real hashes (not with -short or -race)")
	}
	samples := timingSamples(t)
	h := NewHasher(DefaultParams, 2)
	kinds := timingKinds(t, h)
	if os.Getenv("FLEXIDP_TIMING_SAMPLES") != "" {
		for i, m := range timeKinds(t, h, kinds, samples) {
			t.Logf("no floor: %-20s median of %d: %v", kinds[i].name, samples, m.Round(time.Millisecond))
		}
	}
	// The floor as CalibrateTimeFloor sets it, from the hashes of this
	// test rather than the limits (bcrypt 12 would make the test slow).
	var hashes []string
	argon, _ := h.Hash(context.Background(), "x")
	bc10, _ := bcrypt.GenerateFromPassword([]byte("x"), 10)
	hashes = append(hashes, argon, string(bc10))
	floor, err := h.calibrate(context.Background(), hashes, 3)
	if err != nil {
		t.Fatal(err)
	}
	medians := timeKinds(t, h, kinds, samples)
	lo, hi := medians[0], medians[0]
	for i, m := range medians {
		t.Logf("floor %v: %-20s median of %d: %v", floor.Round(time.Millisecond), kinds[i].name, samples, m.Round(time.Millisecond))
		lo, hi = min(lo, m), max(hi, m)
	}
	if float64(hi) > 1.25*float64(lo) {
		t.Errorf("medians range from %v to %v (more than 25%%): the time tells the kinds of hash apart", lo, hi)
	}
}

// TestCalibrateTimeFloorCoversTheLimits: the floor CalibrateTimeFloor sets
// covers the slowest hashes the limits allow (bcrypt cost 12, argon2id
// 64 MiB x 4), not only the Hasher's own: each of them, timed once without
// the floor, takes no more than the floor (with 25% for noise).
func TestCalibrateTimeFloorCoversTheLimits(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("times real hashes (not with -short or -race)")
	}
	h := NewHasher(fastParams, 4)
	ctx := context.Background()
	floor, err := h.CalibrateTimeFloor(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if floor != h.TimeFloor() {
		t.Fatalf("CalibrateTimeFloor returned %v, floor is %v", floor, h.TimeFloor())
	}
	hashes, err := calibrationHashes(fastParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range hashes[:2] {
		d, err := h.medianVerify(ctx, enc, 1)
		if err != nil {
			t.Fatal(err)
		}
		if float64(d) > 1.25*float64(floor) {
			t.Errorf("a hash at the limits takes %v, above the floor %v", d, floor)
		}
	}
}

// TestCalibrationHoldsOneHashAtATime: the calibration's hashes (up to
// 64 MiB each) run one at a time with the memory of the one before freed:
// when each starts, the heap holds less than one hash at the limits
// (objects, dead ones not yet collected included). Left to the collector,
// the garbage of a 64 MiB hash was still on the heap when the next began,
// and the runtime mapped arenas for two.
func TestCalibrationHoldsOneHashAtATime(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes at the limits (bcrypt cost 12, argon2id 64 MiB x 4)")
	}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var most uint64
	hashes := 0
	before := beforeCalibrationHash
	beforeCalibrationHash = func() {
		metrics.Read(sample)
		most = max(most, sample[0].Value.Uint64())
		hashes++
	}
	t.Cleanup(func() { beforeCalibrationHash = before })
	if _, err := NewHasher(fastParams, 4).CalibrateTimeFloor(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	// Argon2id hashes at the limits and of the params (twice) are made,
	// then bcrypt and the three verified, the own params before and
	// after the others: 8 argon2id hashes with one sample.
	if hashes != 8 {
		t.Fatalf("%d calibration hashes seen, want 8", hashes)
	}
	if limit := uint64(MaxArgon2Memory) << 10; most >= limit {
		t.Errorf("the heap held %.1f MiB of objects when a calibration hash began: the memory of the one before (%d MiB) was not freed",
			float64(most)/(1<<20), limit>>20)
	}
}

// TestTimeFloorFollowsTheLoad: when verifications of the Hasher's own
// params get slower than at calibration (a busier machine), the floor
// grows in proportion, and never shrinks below the calibrated one.
func TestTimeFloorFollowsTheLoad(t *testing.T) {
	var f floorState
	f.d.Store(int64(200 * time.Millisecond))
	f.ref = 100 * time.Millisecond
	if got := f.current(); got != 200*time.Millisecond {
		t.Fatalf("floor with no observation = %v, want 200ms", got)
	}
	for range loadWindow {
		f.observe(50 * time.Millisecond)
	}
	if got := f.current(); got != 200*time.Millisecond {
		t.Fatalf("floor on a quieter machine = %v, want the calibrated 200ms", got)
	}
	for range loadWindow {
		f.observe(200 * time.Millisecond)
	}
	if got := f.current(); got != 400*time.Millisecond {
		t.Fatalf("floor with own hashes twice as slow = %v, want 400ms", got)
	}
}
