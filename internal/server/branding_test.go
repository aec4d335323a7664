package server_test

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/server"
	"github.com/flexidp/flexidp/internal/sp"
)

// testLogo is a small PNG.
func testLogo(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// get fetches u without a browser, for the headers.
func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// hostileDisplayName is a display name with markup: every page must show
// it as text.
const hostileDisplayName = `Acme <script>alert(1)</script> Support (Flex)`

// TestBrandingPages checks that the login page, the post page, the
// launcher and an SP error page show the SP's display name and the
// organisation's name, logo, colour and support line, all escaped, and
// that the stylesheet and logo are served from this origin under the
// unchanged CSP.
func TestBrandingPages(t *testing.T) {
	logo := testLogo(t)
	h := newTestIdP(t, idpOptions{Branding: server.Branding{
		OrgName: "Acme <Corp>", Logo: logo, AccentColour: "#0B5394",
		SupportContact: `Help: <b>it-help@acme.example</b> or ext. 4357`,
	}})
	h.updateSP(t, func(p *sp.ServiceProvider) { p.DisplayName = hostileDisplayName })
	escapedSP := `Acme &lt;script&gt;alert(1)&lt;/script&gt; Support (Flex)`
	branded := []string{"<title>Sign in · Acme &lt;Corp&gt;</title>", `<span class="org">Acme &lt;Corp&gt;</span>`,
		`<img src="/branding/logo" alt="">`, `<link rel="stylesheet" href="/branding.css">`,
		`Help: &lt;b&gt;it-help@acme.example&lt;/b&gt; or ext. 4357`}
	noMarkup := func(t *testing.T, what, body string) {
		t.Helper()
		for _, bad := range []string{"<script>alert", "<b>it-help", "<Corp>"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s shows %q unescaped", what, bad)
			}
		}
	}

	flex := samltest.FlexSP(t, h.URL)
	b := samltest.NewBrowser(t)
	page, _ := b.StartSignIn(flex)
	samltest.MustContain(t, page, append([]string{"Sign in to continue to <strong>" + escapedSP + "</strong>"}, branded...)...)
	noMarkup(t, "login page", page)

	// A wrong password shows the login page again, still with the display name.
	status, body := b.Login(h.URL, page, "agent@example.com", "wrong password!")
	samltest.WantStatus(t, "wrong password", status, http.StatusUnauthorized, body)
	samltest.MustContain(t, body, "Sign in to continue to <strong>"+escapedSP+"</strong>")

	status, body = b.Login(h.URL, page, "agent@example.com", password)
	samltest.WantStatus(t, "login", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Signing you in to <strong>"+escapedSP+"</strong>")
	noMarkup(t, "post page", body)

	status, body = b.Get(h.URL + "/launcher")
	samltest.WantStatus(t, "launcher", status, http.StatusOK, body)
	samltest.MustContain(t, body, ">Open "+escapedSP+"</button>", `Acme &lt;Corp&gt;`, `ext. 4357`)
	noMarkup(t, "launcher", body)

	// An SP error page names the SP by its display name.
	h.updateSP(t, func(p *sp.ServiceProvider) { p.AssignmentRequired = true })
	b = samltest.NewBrowser(t)
	page, _ = b.StartSignIn(flex)
	status, body = b.Login(h.URL, page, "sam.supervisor@example.com", password)
	samltest.WantStatus(t, "unassigned", status, http.StatusForbidden, body)
	samltest.MustContain(t, body, "You are not assigned to "+escapedSP+".", `Back to Acme &lt;Corp&gt;`, `ext. 4357`)
	noMarkup(t, "error page", body)

	resp, css := get(t, h.URL+"/branding.css")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("/branding.css: %d %q, want 200 text/css", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	samltest.MustContain(t, string(css), "button:not(.secondary){background:#0b5394}", "a{color:#0b5394}")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self';") || !strings.Contains(csp, "img-src 'self' data:;") {
		t.Errorf("CSP widened for branding: %s", csp)
	}
	resp, got := get(t, h.URL+"/branding/logo")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(got, logo) {
		t.Fatalf("/branding/logo: %d %q, %d bytes; want 200 image/png, the logo's %d bytes",
			resp.StatusCode, resp.Header.Get("Content-Type"), len(got), len(logo))
	}
}

// TestBrandingDefaults checks that without branding the pages look as
// before: flexidp's title, the SP's internal name, no stylesheet or logo
// served.
func TestBrandingDefaults(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	page, _ := samltest.NewBrowser(t).StartSignIn(samltest.FlexSP(t, h.URL))
	samltest.MustContain(t, page, "<title>Sign in · flexidp</title>", "Sign in to continue to <strong>flex</strong>")
	for _, absent := range []string{"/branding.css", "/branding/logo", `id="support"`} {
		if strings.Contains(page, absent) {
			t.Errorf("unbranded login page refers to %s", absent)
		}
	}
	for _, path := range []string{"/branding.css", "/branding/logo"} {
		if resp, _ := get(t, h.URL+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s without branding: %d, want 404", path, resp.StatusCode)
		}
	}
}

// TestBrandingValidate refuses each bad setting with a sentence that names
// it, and accepts good ones.
func TestBrandingValidate(t *testing.T) {
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	big := append(testLogo(t), make([]byte, server.MaxLogoBytes)...)
	cases := []struct {
		name string
		b    server.Branding
		says []string
	}{
		{"colour name", server.Branding{AccentColour: "blue"}, []string{"#rrggbb", "IDP_ACCENT_COLOUR"}},
		{"short colour", server.Branding{AccentColour: "#fff"}, []string{"#rrggbb"}},
		{"CSS injection", server.Branding{AccentColour: "#000000}body{display:none"}, []string{"#rrggbb"}},
		{"too light for white text", server.Branding{AccentColour: "#ffcc00"}, []string{"contrast", "4.5:1", "darker", "IDP_ACCENT_COLOUR"}},
		{"just under AA", server.Branding{AccentColour: "#7a7a7a"}, []string{"contrast"}},
		{"org name two lines", server.Branding{OrgName: "Acme\nCorp"}, []string{"organisation name", "one line", "IDP_ORG_NAME"}},
		{"org name too long", server.Branding{OrgName: strings.Repeat("a", 101)}, []string{"at most 100", "IDP_ORG_NAME"}},
		{"support control char", server.Branding{SupportContact: "call \x1b[31m"}, []string{"support contact", "IDP_SUPPORT_CONTACT"}},
		{"support too long", server.Branding{SupportContact: strings.Repeat("a", 201)}, []string{"at most 200"}},
		{"logo SVG", server.Branding{Logo: svg}, []string{"not a PNG", "SVG", "IDP_ORG_LOGO_FILE"}},
		{"logo text", server.Branding{Logo: []byte("hello")}, []string{"not a PNG"}},
		{"logo too big", server.Branding{Logo: big}, []string{"at most 256 KiB"}},
		{"logo empty", server.Branding{Logo: []byte{}}, []string{"IDP_ORG_LOGO_FILE"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.b.Validate()
			if err == nil {
				t.Fatalf("%+v accepted", c.b)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
	for _, ok := range []server.Branding{{}, {AccentColour: "#0263e0"}, {AccentColour: "#767676"}, {AccentColour: "#000000"},
		{OrgName: "Acme <Corp> & Söhne", SupportContact: "Help: <b>it@acme.example</b>", Logo: testLogo(t)}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v refused: %v", ok, err)
		}
	}
}
