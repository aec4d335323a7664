package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flexidp/flexidp/internal/browsertest"
	"github.com/flexidp/flexidp/internal/samltest"
)

// newChromium starts a headless Chromium with a fresh profile (skipped
// without one, except under CI=true); see browsertest.New.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	return browsertest.New(t)
}

// acsPost is what the browser posted to the test ACS.
type acsPost struct{ samlResponse, relayState string }

// testACS is an assertion consumer service on loopback (http is allowed
// there) that records what the browser posts to it.
func testACS(t *testing.T) (*httptest.Server, <-chan acsPost) {
	t.Helper()
	posts := make(chan acsPost, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		posts <- acsPost{samlResponse: r.PostFormValue("SAMLResponse"), relayState: r.PostFormValue("RelayState")}
		fmt.Fprint(w, `<!doctype html><title>ACS</title><p id="acs">Response received</p>`)
	}))
	t.Cleanup(srv.Close)
	return srv, posts
}

// TestBrowser drives Chromium through the login page: an SP-initiated
// sign-in with a wrong and then the right password, whose Response the
// browser auto-posts to the SP's ACS (checked with crewjam's SP), the
// launcher and an IdP-initiated login from it, and logout.
func TestBrowser(t *testing.T) {
	ctx := newChromium(t)
	e := newTestEnv(t)
	setupFlex(t, e)
	acsSrv, posts := testACS(t)
	acsURL := acsSrv.URL + "/acs"
	e.cli("", "sp", "add", "--name", "browser", "--entity-id", "urn:test:browser", "--acs", acsURL)
	base := e.startServe()

	sp := samltest.FlexSP(t, base)
	sp.EntityID = "urn:test:browser"
	acs, _ := url.Parse(acsURL)
	sp.AcsURL = *acs
	sp.AllowIDPInitiated = true

	received := func(what string) []byte {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("acs"))); err != nil {
			t.Fatalf("%s: the browser did not reach the ACS: %v", what, err)
		}
		loc := location(ctx, t)
		if loc != acsURL {
			t.Fatalf("%s: browser at %s, want the ACS %s", what, loc, acsURL)
		}
		select {
		case p := <-posts:
			raw, err := base64.StdEncoding.DecodeString(p.samlResponse)
			if err != nil {
				t.Fatalf("%s: SAMLResponse is not base64: %v", what, err)
			}
			if what == "SP-initiated" && p.relayState != "browser-relay" {
				t.Errorf("%s: RelayState = %q, want it echoed", what, p.relayState)
			}
			return raw
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: nothing posted to the ACS", what)
			return nil
		}
	}

	// SP-initiated, first with a wrong password.
	redirect, reqID := samltest.AuthnRedirect(t, sp, "browser-relay", nil)
	err := chromedp.Do(ctx,
		chromedp.Navigate(redirect),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "agent@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.CSS(".error")),
	)
	if err != nil {
		t.Fatalf("wrong password: %v", err)
	}
	errText := browserValue(ctx, t, chromedp.Text(chromedp.CSS(".error")))
	email := browserValue(ctx, t, chromedp.Value(chromedp.ID("email")))
	loc := location(ctx, t)
	if errText != errBadCredentialsText || loc != base+"/login" || email != "agent@example.com" {
		t.Fatalf("after a wrong password: error %q at %s, email %q; want %q on the login page with the email kept",
			errText, loc, email, errBadCredentialsText)
	}
	select {
	case <-posts:
		t.Fatal("a wrong password produced a Response")
	default:
	}
	// The email is kept, so the person retypes the password: focus is there.
	if focused := browserValue(ctx, t, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "password" {
		t.Errorf("after a wrong password the focus is on %q, want the password field", focused)
	}
	checkContrast(ctx, t)

	// The right password on the same form: the Response reaches the ACS.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(submit),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	doc := received("SP-initiated")
	assertion, err := sp.ParseXMLResponse(doc, []string{reqID}, *acs)
	if err != nil {
		t.Fatalf("crewjam SP refuses the Response the browser posted: %v", err)
	}
	if got := assertion.Subject.NameID.Value; got != "agent@example.com" {
		t.Errorf("NameID = %q", got)
	}

	// The launcher lists the applications; opening one posts an
	// unsolicited Response.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/launcher"),
		chromedp.WaitVisible(chromedp.ID("launch-browser")),
	)
	if err != nil {
		t.Fatalf("launcher: %v", err)
	}
	launcher := browserValue(ctx, t, chromedp.Text(chromedp.CSS("main")))
	for _, want := range []string{"agent@example.com", "Open browser", "Open flex", "urn:test:browser"} {
		if !strings.Contains(launcher, want) {
			t.Fatalf("launcher lacks %q:\n%s", want, launcher)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("launch-browser"))); err != nil {
		t.Fatalf("open from the launcher: %v", err)
	}
	if _, err := sp.ParseXMLResponse(received("IdP-initiated"), nil, *acs); err != nil {
		t.Fatalf("crewjam SP refuses the IdP-initiated Response: %v", err)
	}

	// Logout ends the session: the launcher asks for the password again.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/launcher"),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)),
	)
	if err != nil {
		t.Fatalf("logout: %v", err)
	}
	signedOut := browserValue(ctx, t, chromedp.Text(chromedp.CSS("main")))
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/launcher"),
		chromedp.WaitVisible(chromedp.ID("password")),
	)
	if err != nil {
		t.Fatalf("launcher after logout: %v", err)
	}
	loc = location(ctx, t)
	if !strings.Contains(signedOut, "signed out") || loc != base+"/login" {
		t.Fatalf("after logout: %q, then the launcher went to %s; want the login page", signedOut, loc)
	}
}

// checkContrast computes, as a browser renders the login page, the contrast
// of the footer text and of the input borders against what is behind them:
// WCAG 2.1 AA asks 4.5:1 for text (1.4.3) and 3:1 for the boundary of a
// form control (1.4.11).
func checkContrast(ctx context.Context, t *testing.T) {
	t.Helper()
	colours := browserValue(ctx, t, chromedp.Evaluate[[]string](`(() => {
		const bg = el => {
			for (; el; el = el.parentElement) {
				const c = getComputedStyle(el).backgroundColor;
				if (c !== "rgba(0, 0, 0, 0)" && c !== "transparent") return c;
			}
			return "rgb(255, 255, 255)";
		};
		const footer = document.querySelector("footer"), input = document.getElementById("password");
		return [getComputedStyle(footer).color, bg(footer), getComputedStyle(input).borderTopColor, bg(input.parentElement)];
	})()`))
	for _, c := range []struct {
		what    string
		fg, bg  string
		minimum float64
	}{
		{"footer text", colours[0], colours[1], 4.5},
		{"input border", colours[2], colours[3], 3},
	} {
		if r := contrastRatio(t, c.fg, c.bg); r < c.minimum {
			t.Errorf("%s: contrast of %s on %s is %.2f:1, WCAG AA needs %.1f:1", c.what, c.fg, c.bg, r, c.minimum)
		}
	}
}

// contrastRatio is the WCAG contrast ratio of two opaque CSS rgb() colours.
func contrastRatio(t *testing.T, a, b string) float64 {
	t.Helper()
	lum := func(css string) float64 {
		var r, g, bl float64
		if _, err := fmt.Sscanf(css, "rgb(%g, %g, %g)", &r, &g, &bl); err != nil {
			t.Fatalf("colour %q is not an opaque rgb(): %v", css, err)
		}
		lin := func(v float64) float64 {
			v /= 255
			if v <= 0.03928 {
				return v / 12.92
			}
			return math.Pow((v+0.055)/1.055, 2.4)
		}
		return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(bl)
	}
	la, lb := lum(a), lum(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// errBadCredentialsText is the login page's sentence for a wrong password.
const errBadCredentialsText = "Wrong email or password."

// submit is the login form's button.
var submit = chromedp.CSS(`button[type="submit"]`)

// browserValue runs a browser action that returns a value, failing the test on error.
func browserValue[T any](ctx context.Context, t *testing.T, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func location(ctx context.Context, t *testing.T) string {
	t.Helper()
	return browserValue(ctx, t, chromedp.Location())
}
