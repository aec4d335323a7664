package users

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// A stored hash's kind and cost would show in the time a sign-in takes: an
// imported bcrypt hash of cost 10 takes about twice the default argon2id,
// one of cost 4 a twentieth of it, so an attacker could tell accounts that
// were imported, and not signed in since, from unknown emails. Every
// verification is therefore padded, by sleeping after the hash is computed
// and its slot released (memory and CPU are not held), to a floor: the time
// of the slowest verification the limits allow (MaxBcryptCost,
// MaxArgon2Work), measured on this machine at start by CalibrateTimeFloor.

// floorMargin is added to the slowest median so that the slowest kind of
// hash, whose times scatter around its median, stays under the floor.
const floorMargin = 1.15

// loadWindow is how many recent verifications of the Hasher's own
// params the load factor is the median of.
const loadWindow = 15

// floorState pads verifications to a minimum duration. A floor measured at
// start would be too low once the machine gets busier (every hash then
// takes longer, the slowest ones beyond the floor), so a calibrated floor
// is scaled by the load factor: the median time of the last verifications
// of the Hasher's own params (unknown emails and argon2id accounts, the
// most frequent) over their time at calibration, at least 1.
type floorState struct {
	d       atomic.Int64 // the floor at calibration, or as set
	mu      sync.Mutex
	pending chan struct{}   // closed when the calibration under way ends
	ref     time.Duration   // median time of the own params at calibration; 0: no scaling
	recent  []time.Duration // the last loadWindow times of the own params
	next    int
}

// observe records the time of a verification of the Hasher's own params.
func (f *floorState) observe(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.recent) < loadWindow {
		f.recent = append(f.recent, d)
		return
	}
	f.recent[f.next] = d
	f.next = (f.next + 1) % loadWindow
}

// current is the floor now: the base floor times the load factor.
func (f *floorState) current() time.Duration {
	base := time.Duration(f.d.Load())
	f.mu.Lock()
	ref, recent := f.ref, Median(f.recent)
	f.mu.Unlock()
	if ref <= 0 || recent <= ref {
		return base
	}
	return time.Duration(float64(base) * float64(recent) / float64(ref))
}

func (f *floorState) waitCalibration(ctx context.Context) {
	f.mu.Lock()
	ch := f.pending
	f.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// pad sleeps until floor has passed since start.
func (f *floorState) pad(ctx context.Context, start time.Time) {
	f.waitCalibration(ctx)
	d := f.current() - time.Since(start)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// SetTimeFloor sets the least time a verification takes (0, the default,
// for none). A floor below the time of some stored hash lets sign-in time
// tell that hash's accounts apart; CalibrateTimeFloor measures one that
// does not.
func (h *Hasher) SetTimeFloor(d time.Duration) {
	h.floor.mu.Lock()
	h.floor.ref = 0
	h.floor.mu.Unlock()
	h.floor.d.Store(int64(max(d, 0)))
}

// TimeFloor returns the least time a verification takes now (the
// calibrated floor scaled by the load factor).
func (h *Hasher) TimeFloor() time.Duration { return h.floor.current() }

// CalibrateTimeFloor measures the median time, over samples runs, of
// verifying a wrong password against the slowest hashes the limits allow
// (bcrypt of MaxBcryptCost, argon2id of MaxArgon2Work with p=1) and against
// a hash of the Hasher's params, and sets the floor to the slowest median
// plus 15%. Verifications that end while it runs wait for it, so no sign-in
// is answered before the floor is known. It returns the floor set.
func (h *Hasher) CalibrateTimeFloor(ctx context.Context, samples int) (time.Duration, error) {
	defer h.floor.begin()()
	return h.calibrateLimits(ctx, samples)
}

// CalibrateTimeFloorInBackground starts CalibrateTimeFloor and returns at
// once (the server starts listening meanwhile); verifications that end
// before it is done wait for it. report, if not nil, gets its result.
func (h *Hasher) CalibrateTimeFloorInBackground(ctx context.Context, samples int, report func(time.Duration, error)) {
	end := h.floor.begin()
	go func() {
		d, err := h.calibrateLimits(ctx, samples)
		end()
		if report != nil {
			report(d, err)
		}
	}()
}

// begin marks a calibration under way; the returned func ends it.
func (f *floorState) begin() (end func()) {
	done := make(chan struct{})
	f.mu.Lock()
	f.pending = done
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		if f.pending == done {
			f.pending = nil
		}
		f.mu.Unlock()
		close(done)
	}
}

func (h *Hasher) calibrateLimits(ctx context.Context, samples int) (time.Duration, error) {
	hashes, err := calibrationHashes(h.params)
	if err != nil {
		return 0, err
	}
	return h.calibrate(ctx, hashes, samples)
}

// calibrate sets the floor from the slowest median of verifying hashes,
// and the reference for the load factor from a hash of the own params.
func (h *Hasher) calibrate(ctx context.Context, hashes []string, samples int) (time.Duration, error) {
	beforeCalibrationHash()
	own, err := hashArgon2id(h.params, "flexidp-calibration")
	collectCalibrationHash()
	if err != nil {
		return 0, err
	}
	var slowest, ref time.Duration
	// The own params are timed before and after the others, so that the
	// reference sees the same load as they do.
	for _, enc := range append(append([]string{own}, hashes...), own) {
		m, err := h.medianVerify(ctx, enc, max(samples, 1))
		if err != nil {
			return 0, err
		}
		slowest = max(slowest, m)
		if enc == own {
			ref = max(ref, m)
		}
	}
	floor := time.Duration(float64(slowest) * floorMargin)
	h.floor.mu.Lock()
	h.floor.ref, h.floor.recent, h.floor.next = ref, nil, 0
	h.floor.mu.Unlock()
	h.floor.d.Store(int64(floor))
	return floor, nil
}

// calibrationHashes are the slowest hashes the limits allow, and one of
// params.
func calibrationHashes(params Params) ([]string, error) {
	bc, err := bcrypt.GenerateFromPassword([]byte("flexidp-calibration"), MaxBcryptCost)
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	slowArgon := Params{Memory: MaxArgon2Memory, Iterations: MaxArgon2Work / MaxArgon2Memory, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	out := []string{string(bc)}
	for _, p := range []Params{slowArgon, params} {
		beforeCalibrationHash()
		enc, err := hashArgon2id(p, "flexidp-calibration")
		collectCalibrationHash()
		if err != nil {
			return nil, err
		}
		out = append(out, enc)
	}
	return out, nil
}

// medianVerify is the median time of verifying a wrong password against
// enc, within the memory budget and without the floor.
func (h *Hasher) medianVerify(ctx context.Context, enc string, samples int) (time.Duration, error) {
	times := make([]time.Duration, 0, samples)
	n := h.slotsFor(enc)
	for range samples {
		if err := h.acquireN(ctx, n); err != nil {
			return 0, err
		}
		beforeCalibrationHash()
		start := time.Now()
		_, _, err := verify(h.params, enc, "wrong password")
		times = append(times, time.Since(start))
		h.releaseN(n)
		collectCalibrationHash()
		if err != nil {
			return 0, fmt.Errorf("calibrate: %w", err)
		}
	}
	return Median(times), nil
}

// collectCalibrationHash frees the memory of the calibration hash that
// just ended before the next one allocates its own. The calibration runs
// hashes of up to MaxArgon2Memory (64 MiB) back to back; left to the
// collector's pace, the heap held the garbage of one beside the next
// (its goal doubles the live heap, and a hash's buffer is live while it
// runs): it reached 140 MB, the runtime mapped 216 MiB of arenas, and
// their metadata and some free pages stayed resident after the memory
// was returned. Collected after each, the heap holds one hash at a time.
// The collection is outside the timed verification, and a live heap of
// about 1 MB (the buffers hold no pointers) takes a few milliseconds.
func collectCalibrationHash() { runtime.GC() }

// beforeCalibrationHash is called before each hash of the calibration
// allocates; tests replace it to look at the heap then.
var beforeCalibrationHash = func() {}

// Median returns the median of ds (the upper one of an even count).
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
