package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/users"
)

// bounds are the physical limits of the server: what its CPUs could do if
// they did nothing but the unavoidable cryptography.
type bounds struct {
	rsaPerCore   float64 // raw RSA signatures per second, one core
	argonPerCore float64 // raw argon2id verifications per second, one core
	params       users.Params
	key          *rsa.PrivateKey
	hasher       *users.Hasher
	hash         string

	sso    float64 // responses/s: two signatures (Response and Assertion) each
	signIn float64 // password sign-ins/s: one argon2id verification each
}

// measureBounds times raw RSA-2048 PKCS#1 v1.5 SHA-256 signing (what
// goxmldsig calls for each signature) and argon2id verification with
// users.DefaultParams (what a sign-in costs), single-threaded on one of the
// server's CPUs.
func measureBounds(cpu cpuPlan, d time.Duration) (bounds, error) {
	b := bounds{params: users.DefaultParams}
	key, err := rsa.GenerateKey(rand.Reader, keys.DefaultBits)
	if err != nil {
		return b, err
	}
	b.key = key
	b.hasher = users.NewHasher(users.DefaultParams, 1)
	if b.hash, err = b.hasher.Hash(context.Background(), "bench password"); err != nil {
		return b, err
	}
	if b.rsaPerCore, err = b.rsaNow(cpu, d); err != nil {
		return b, err
	}
	b.argonPerCore, err = b.argonNow(cpu, d)
	return b, err
}

// rsaNow is the raw signing rate, measured now on one of the server's
// CPUs, per wall second; argonNow the raw argon2id verification rate.
// They are measured right before and right after each phase (the server
// idle, no agent running): the password phase is compared with their
// mean, the sso phase with the RSA probe's reading during it (apply),
// the machine's speed varying from second to second.
func (b bounds) rsaNow(cpu cpuPlan, d time.Duration) (float64, error) {
	return b.onServer(cpu, "RSA", d, b.rsaSign())
}

// rsaSign makes one raw signature, as goxmldsig does for each of a
// Response's two: rsaNow times it in a loop, the probe once in a while.
func (b bounds) rsaSign() func() error {
	digest := sha256.Sum256([]byte("<ds:SignedInfo>"))
	return func() error {
		_, err := b.key.Sign(rand.Reader, digest[:], crypto.SHA256)
		return err
	}
}

// argon2id computes its lane on a goroutine of its own, so every thread
// goes to the server's CPUs for it, not only the measuring one (the rate
// was read on the agents' CPU before).
func (b bounds) argonNow(cpu cpuPlan, d time.Duration) (float64, error) {
	var r float64
	err := cpu.allOnServerCPUs(func() error {
		var err error
		r, err = rate(d, b.argonVerify())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("argon2id: %w", err)
	}
	return r, nil
}

// argonVerify is one argon2id verification of a sign-in.
func (b bounds) argonVerify() func() error {
	return func() error {
		ok, _, err := b.hasher.Verify(context.Background(), b.hash, "bench password")
		if err == nil && !ok {
			err = fmt.Errorf("the password does not verify")
		}
		return err
	}
}

func (b bounds) onServer(cpu cpuPlan, what string, d time.Duration, f func() error) (float64, error) {
	var r float64
	err := cpu.onServerCPUs(func() error {
		var err error
		r, err = rate(d, f)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return r, nil
}

// around is the raw rate (what: RSA or argon2id) a phase's bound rests
// on, measured right before and right after it, and that bound. For RSA
// (sso) it also holds the probe's signatures during the phase, and the
// bound is then the probe's rate during the server's own slices (apply).
type around struct {
	what  string
	rates [2]float64
	bound float64
	// scale turns a raw rate per core into the bound: the server's CPUs
	// over the raw operations an operation costs (two signatures).
	scale   float64
	probing bool
	probed  []probeSample
}

// measureAround runs a phase (run; its error ends it) between two measurements of the raw
// rate its bound rests on, on the server's CPUs: RSA for sso (two
// signatures a Response), argon2id for password (one a sign-in). The
// bound is that of the two rates' mean; for sso the probe signs during
// the phase too (startProbe), and apply prefers its rate.
func (b bounds) measureAround(cpu cpuPlan, o options, phase string, run func() error) (around, error) {
	raw, a, per := b.rsaNow, around{what: "RSA"}, 0.5
	if phase == "password" {
		raw, a.what, per = b.argonNow, "argon2id", 1
	}
	var err error
	if a.rates[0], err = raw(cpu, o.boundsTime); err != nil {
		return a, err
	}
	var p *probe
	if a.what == "RSA" {
		p, a.probing = startProbe(cpu, probeEvery, b.rsaSign(), threadCPU), true
	}
	runErr := run()
	if p != nil {
		if a.probed, err = p.stop(); err != nil {
			return a, fmt.Errorf("RSA probe: %w", err)
		}
	}
	if runErr != nil {
		return a, runErr
	}
	if a.rates[1], err = raw(cpu, o.boundsTime); err != nil {
		return a, err
	}
	a.scale = float64(o.cpus) * per
	a.bound = (a.rates[0] + a.rates[1]) / 2 * a.scale
	fmt.Printf("  %s on the server's CPU around the phase: %.1f /s before, %.1f /s after -> bound %.1f/s\n", a.what, a.rates[0], a.rates[1], a.bound)
	return a, nil
}

// apply merges the slices rs of one server's phase and gives the result
// this bound, and the target goal (a fraction of it). With the probe,
// the bound is that of the probe's rate during these slices only: the
// other server's slices, in between, had moments of their own.
func (a around) apply(rs []result, goal float64) result {
	r := merge(rs)
	r.rawAround, r.rawName, r.bound, r.goal = a.rates, a.what, a.bound, goal
	if a.probing {
		y := readProbe(a.probed, windowsOf(rs))
		r.probe = &y
		if y.signatures > 0 {
			r.bound = y.rate * a.scale
		}
	}
	return r
}

// scale sets the bounds for a server with cpus cores.
func (b *bounds) scale(cpus int) {
	b.sso = b.rsaPerCore * float64(cpus) / 2
	b.signIn = b.argonPerCore * float64(cpus)
}

// rate runs f repeatedly for about d and returns calls per second.
func rate(d time.Duration, f func() error) (float64, error) {
	if err := f(); err != nil { // warm up
		return 0, err
	}
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		if err := f(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
