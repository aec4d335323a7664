package main

import (
	"bytes"
	"flag"
	"image"
	"image/png"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/users"
)

// TestSigninTimeFloorFlag: --signin-time-floor takes 0 or a duration
// (auto is the default, measured at start), and refuses anything else
// with a sentence naming the setting.
func TestSigninTimeFloorFlag(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"0", 0, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{" 1s ", time.Second, ""},
		{"fast", 0, "IDP_SIGNIN_TIME_FLOOR"},
		{"-1s", 0, "not auto, 0 or a duration"},
	} {
		h := users.NewHasher(users.DefaultParams, 1)
		err := startSigninFloor(t.Context(), log, h, c.in, nil)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one saying %q", c.in, err, c.err)
		case c.err == "" && (err != nil || h.TimeFloor() != c.want):
			t.Errorf("%q: floor %v, error %v; want %v", c.in, h.TimeFloor(), err, c.want)
		}
	}
}

// TestBrandingRefusedAtStart: idp serve refuses each bad branding setting
// before it opens the database, with a sentence naming the setting.
func TestBrandingRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "logo.svg")
	if err := os.WriteFile(svg, []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, env, value string
		says             []string
	}{
		{"colour not hex", "IDP_ACCENT_COLOUR", "red", []string{"#rrggbb", "IDP_ACCENT_COLOUR"}},
		{"colour too light", "IDP_ACCENT_COLOUR", "#ffd700", []string{"contrast", "WCAG AA", "darker"}},
		{"org name two lines", "IDP_ORG_NAME", "Acme\nCorp", []string{"organisation name", "IDP_ORG_NAME"}},
		{"support too long", "IDP_SUPPORT_CONTACT", strings.Repeat("x", 201), []string{"support contact", "IDP_SUPPORT_CONTACT"}},
		{"logo missing", "IDP_ORG_LOGO_FILE", filepath.Join(dir, "none.png"), []string{"logo file cannot be read", "IDP_ORG_LOGO_FILE"}},
		{"logo SVG", "IDP_ORG_LOGO_FILE", svg, []string{"not a PNG", "IDP_ORG_LOGO_FILE"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// No database: the refusal comes before the store is opened.
			e := &testEnv{t: t, getenv: map[string]string{"IDP_BASE_URL": "http://localhost:8080", c.env: c.value}}
			out := e.cliWant(1, "", "serve")
			for _, s := range c.says {
				if !strings.Contains(out, s) {
					t.Errorf("error %q does not say %q", out, s)
				}
			}
		})
	}
}

// TestBrandingFlags: the flags and IDP_ORG_* variables reach
// server.Branding, the logo read from its file.
func TestBrandingFlags(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	logo := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(logo, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"IDP_ORG_NAME": "Acme Corp", "IDP_SUPPORT_CONTACT": "Help: ext. 4357"}
	env := &environment{getenv: func(k string) string { return vars[k] }}
	var o brandingOptions
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	o.register(env, fs)
	if err := fs.Parse([]string{"--accent-colour", "#0b5394", "--org-logo-file", logo}); err != nil {
		t.Fatal(err)
	}
	b, err := o.load()
	if err != nil {
		t.Fatal(err)
	}
	if b.OrgName != "Acme Corp" || b.SupportContact != "Help: ext. 4357" || b.AccentColour != "#0b5394" || !bytes.Equal(b.Logo, buf.Bytes()) {
		t.Fatalf("branding = %+v", b)
	}
}

// TestTuneGC: serve sets the memory limit unless the environment sets
// GOMEMLIMIT, and leaves GOGC as it is.
func TestTuneGC(t *testing.T) {
	prevGC := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevGC); debug.SetMemoryLimit(prevLimit) })
	for _, tc := range []struct {
		name  string
		vars  map[string]string
		limit int64
	}{
		{"defaults", nil, (256 + memoryHeadroomMiB) << 20},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			env := &environment{getenv: func(k string) string { return tc.vars[k] }}
			tuneGC(env, slog.New(slog.DiscardHandler), 256)
			if got := debug.SetGCPercent(100); got != 100 {
				t.Errorf("GOGC %d, want Go's default 100", got)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.limit {
				t.Errorf("memory limit %d, want %d", got, tc.limit)
			}
		})
	}
}

// TestGCPercentFor: GOGC is raised in steps until the heap may reach the
// floor, and is Go's default once the live heap alone gets it there.
func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 800},
		{2 * mib, 800},   // 18 MiB at most: the cap
		{4 * mib, 800},   // 36 MiB
		{5 * mib, 800},   // 25 MiB at 400: not enough
		{7 * mib, 400},   // 35 MiB
		{8 * mib, 400},   // 40 MiB
		{11 * mib, 200},  // 33 MiB
		{16 * mib, 100},  // 32 MiB
		{40 * mib, 100},  // hashes running: the default
		{400 * mib, 100}, // and above the floor
	} {
		if got := gcPercentFor(tc.live, 32*mib); got != tc.want {
			t.Errorf("gcPercentFor(%d MiB, 32 MiB) = %d, want %d", tc.live/mib, got, tc.want)
		}
	}
}

// TestGCFloor: after a collection the floor sets GOGC for the live heap
// it found, and once stopped it sets GOGC back and changes it no more.
func TestGCFloor(t *testing.T) {
	gogc := keepGOGC(t)
	stop := startGCFloor(1 << 40) // far above any test's heap: the cap
	runtime.GC()
	eventually(t, "GOGC is raised to the cap after a collection", func() bool { return gogc() == maxGCPercent })
	stop()
	if got := gogc(); got != 100 {
		t.Fatalf("GOGC %d after stop, want the 100 it was", got)
	}
	runtime.GC()
	runtime.GC() // a finalizer armed before stop has run by now, or never will
	debug.FreeOSMemory()
	if got := gogc(); got != 100 {
		t.Errorf("GOGC %d after stop and collections, want 100", got)
	}
}

// TestGCFloorShared: servers in one process share the floor; it ends,
// and GOGC is set back, when the last of them stops.
func TestGCFloorShared(t *testing.T) {
	gogc := keepGOGC(t)
	stopA := startGCFloor(1 << 40)
	runtime.GC()
	eventually(t, "GOGC is raised after a collection", func() bool { return gogc() == maxGCPercent })
	stopB := startGCFloor(1 << 40) // a second server, while the first one's floor holds
	stopA()
	stopA() // a second stop of the same server changes nothing
	runtime.GC()
	eventually(t, "GOGC is raised while one server still runs", func() bool { return gogc() == maxGCPercent })
	stopB()
	if got := gogc(); got != 100 {
		t.Errorf("GOGC %d once both stopped, want the 100 it was", got)
	}
}

// keepGOGC sets GOGC to 100 for t, back to what it was after it, and
// returns a reader of the GOGC in force.
func keepGOGC(t *testing.T) func() int {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	return func() int {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return int(s[0].Value.Uint64())
	}
}
