// Package browsertest drives a real headless Chromium for tests (through
// the DevTools protocol, with chromedp) and scans the page it shows with
// axe-core, the accessibility engine browsers' own audit tools use. It is
// for tests only, like net/http/httptest.
//
// Chromium and axe-core are outside Go: a test that needs one that is
// missing is skipped, and fails when CI=true (see samltest.Require).
// scripts/test.sh installs axe-core with npm and sets FLEXIDP_AXE.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flexidp/flexidp/internal/samltest"
)

// AxeEnv names the environment variable with the path of axe.min.js.
const AxeEnv = "FLEXIDP_AXE"

// axeInstall is how to get axe-core, for the skip or failure message.
const axeInstall = `npm install --no-save --prefix "$HOME/.cache/flexidp-axe" axe-core@4.14.1, ` +
	`then FLEXIDP_AXE=$HOME/.cache/flexidp-axe/node_modules/axe-core/axe.min.js (scripts/test.sh does both)`

// ChromiumPath finds Chromium (the Debian chromium package, or another
// Chrome). Without one the test is skipped, except under CI=true, where it
// is required.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	samltest.Require(t, "Chromium", "apt-get install chromium")
	return ""
}

// New starts a headless Chromium with a fresh profile and returns the
// context of its first tab; the browser is closed when the test ends. The
// flags keep it from reaching the network on its own (updates, sync, QUIC)
// and let it run as root in a container.
func New(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(ctx); err != nil { // start the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// Violation is one axe-core rule a page breaks.
type Violation struct {
	ID      string   `json:"id"`     // the rule, e.g. "label"
	Impact  string   `json:"impact"` // minor, moderate, serious or critical
	Help    string   `json:"help"`   // what the rule asks, in a sentence
	HelpURL string   `json:"helpUrl"`
	Targets []string `json:"targets"` // CSS selectors of the failing elements
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s — %s [%s]", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "), v.HelpURL)
}

var axeSource = struct {
	once sync.Once
	js   string
	err  error
}{}

// axeJS reads axe.min.js from $FLEXIDP_AXE, skipping the test (failing it
// under CI=true) when it is not there.
func axeJS(t testing.TB) string {
	t.Helper()
	path := os.Getenv(AxeEnv)
	if path == "" {
		samltest.Require(t, "axe-core ($"+AxeEnv+" unset)", axeInstall)
	}
	axeSource.once.Do(func() {
		b, err := os.ReadFile(path)
		axeSource.js, axeSource.err = string(b), err
	})
	if axeSource.err != nil {
		samltest.Require(t, "axe-core ("+axeSource.err.Error()+")", axeInstall)
	}
	return axeSource.js
}

// RequireAxe skips the test (fails it under CI=true) unless axe-core is
// installed: call it before costly set-up that only a scan needs.
func RequireAxe(t testing.TB) {
	t.Helper()
	axeJS(t)
}

// axeRun runs every rule axe-core enables by default (WCAG 2.x A and AA
// and best practices) on the whole document and returns the violations.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
	targets: v.nodes.map(n => n.target.join(" "))
})))`

// Scan injects axe-core into the page the browser shows and returns every
// violation it finds. The script goes in through the DevTools protocol
// (Runtime.evaluate), which the page's Content-Security-Policy does not
// govern, so the page is scanned with its real CSP in force.
func Scan(ctx context.Context, t testing.TB) []Violation {
	t.Helper()
	js := axeJS(t)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](js)); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]Violation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe.run: %v", err)
	}
	return vs
}

// Serious keeps the violations whose impact is serious or critical.
func Serious(vs []Violation) []Violation {
	var out []Violation
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			out = append(out, v)
		}
	}
	return out
}

// AssertAccessible scans the page the browser shows and fails the test,
// naming page, for each serious or critical violation (rule, help and
// failing elements). Minor and moderate ones are logged.
func AssertAccessible(ctx context.Context, t testing.TB, page string) {
	t.Helper()
	vs := Scan(ctx, t)
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("%s: axe-core: %s", page, v)
		} else {
			t.Logf("%s: axe-core (not failing): %s", page, v)
		}
	}
}
