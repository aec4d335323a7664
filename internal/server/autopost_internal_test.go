package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/saml"
)

// postCase is one auto-POST page: the request it answers and its values.
type postCase struct {
	method, target, lang, requestID string
	sp, acs, msg, relay             string
}

// checkPrecompiledPost answers c with the precompiled page (writePost)
// and with the template (render), and fails unless status, headers and
// bytes are the same, but for one documented difference: a base64
// SAMLResponse is written as it is, where the template writes its + as
// &#43; (the same value to the browser).
func checkPrecompiledPost(t *testing.T, s *Server, c postCase) {
	t.Helper()
	request := func() *http.Request {
		r := httptest.NewRequest(c.method, c.target, nil)
		ctx := i18n.NewContext(context.WithValue(r.Context(), requestIDKey, c.requestID), c.lang)
		return r.WithContext(ctx)
	}
	p := page{Title: "title.post", SPName: c.sp, ACSURL: c.acs, SAMLResponse: c.msg, RelayState: c.relay}
	fast := httptest.NewRecorder()
	if !s.writePost(fast, request(), p) {
		t.Fatalf("%+v: no precompiled page", c)
	}
	want := httptest.NewRecorder()
	s.render(want, request(), http.StatusOK, "post", p)
	page := want.Body.String()
	if isBase64(c.msg) {
		field := `name="SAMLResponse" value="`
		escaped := field + strings.ReplaceAll(c.msg, "+", "&#43;") + `"`
		if n := strings.Count(page, escaped); n != 1 {
			t.Fatalf("%+v: the template's page holds the SAMLResponse field %d times", c, n)
		}
		page = strings.Replace(page, escaped, field+c.msg+`"`, 1)
	}
	if fast.Code != want.Code {
		t.Errorf("%+v: status %d, template %d", c, fast.Code, want.Code)
	}
	for _, k := range []string{"Content-Type", "Content-Language", "Vary"} {
		if got, w := fast.Header().Values(k), want.Header().Values(k); strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("%+v: %s %q, template %q", c, k, got, w)
		}
	}
	if n := fast.Header().Get("Content-Length"); n != strconv.Itoa(fast.Body.Len()) {
		t.Errorf("%+v: Content-Length %q for a %d-byte page", c, n, fast.Body.Len())
	}
	if got := fast.Body.String(); got != page {
		i := 0
		for i < len(got) && i < len(page) && got[i] == page[i] {
			i++
		}
		t.Errorf("%+v: page differs from the template's at byte %d:\nprecompiled: %q\ntemplate:    %q", c, i,
			got[max(0, i-40):min(len(got), i+80)], page[max(0, i-40):min(len(page), i+80)])
	}
}

// TestPrecompiledAutoPost: the auto-POST page written from its
// precompiled pieces is byte for byte the page html/template executes,
// headers included, in every language, with and without a RelayState,
// for values that need every escape html/template applies in their
// places (the form's URL attribute, the hidden fields, the SP's name in
// the sentence, the language switch's links carrying the request's
// query), on servers with and without branding and the development
// banner.
func TestPrecompiledAutoPost(t *testing.T) {
	const b64 = "PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46b2FzaXM+Cg=="
	servers := map[string]*Server{
		"plain": newTestServer(t, Config{}, "https://idp.example.com", nil),
		"branded, dev": newTestServer(t, Config{Dev: true, DevData: `/tmp/<x>&"y"`, Branding: Branding{OrgName: `A&B <Ltd> "x"`,
			SupportContact: "Help: it+help@example.com 'ext' 4357", AccentColour: "#1a4f8b"}}, "http://localhost:8080", nil),
	}
	cases := []postCase{
		{sp: "Twilio Flex", acs: "https://flex.twilio.com/ac123/saml/acs", msg: b64},
		{sp: `<script>&"'+`, acs: "https://flex.twilio.com/acs?a=1&b=+c d#f", msg: b64 + "+/", relay: "https://flex.twilio.com/x?a=1&b=<2>"},
		{sp: "Ünïcode\x00 sp", acs: "https://ex.example/é/%41%zz%4/'()\"<>`{}|\\^ \t\x00\xff", msg: "not base64 <&>\"'+\x00é\xff", relay: "\xff\xfe\ufdd0\ufffe\uffff\x00+&'\""},
		{sp: "x", acs: "javascript:alert(1)", msg: b64, relay: "flexidp0post0mark0D flexidpSAMLmessage0mark"},
		{sp: "x", acs: "HTTPS://EX.example:8443/acs", msg: b64, relay: strings.Repeat("r", 80)},
		{sp: "x", acs: "mailto:a@b", msg: "", relay: "x"},
		{sp: "x", acs: "/relative/a:b", msg: b64},
		{sp: "x", acs: "data:text/html,x", msg: b64},
		{sp: "x", acs: "https://ex.example/acs%", msg: b64},
	}
	targets := []struct{ method, target string }{
		{http.MethodGet, "/saml/sso?SAMLRequest=fZJRT%2BMwEITf%2BRWR35s4aXvcWU2qHghdJU5UJNwDb%2BBsirnE26%2Fe&RelayState=a%20b&SigAlg=x&lang=fr"},
		{http.MethodGet, `/saml/sso?SAMLRequest=a+b/c=&RelayState="<x>'&x=%zz%&é=ü`},
		{http.MethodGet, "//evil.example/saml/sso?lang=es&lang=en"},
		{http.MethodGet, "/saml/sso"},
		{http.MethodPost, "/saml/sso"},
		{http.MethodPost, "/login"},
		{http.MethodPost, "/login/mfa?x=1"},
		{http.MethodGet, "/sso/idp/fl%20ex%2F?x=<y>"},
	}
	for name, s := range servers {
		t.Run(name, func(t *testing.T) {
			if len(s.posts) != len(i18n.Languages) {
				t.Fatalf("%d precompiled auto-POST pages, want one for each of %d languages", len(s.posts), len(i18n.Languages))
			}
			for _, lang := range i18n.Languages {
				for _, tg := range targets {
					for _, id := range []string{"0123456789abcdef", `<id>&"+`} {
						for _, c := range cases {
							c.method, c.target, c.lang, c.requestID = tg.method, tg.target, lang, id
							checkPrecompiledPost(t, s, c)
						}
					}
				}
			}
		})
	}
}

// TestRenderPostResponse: the page renderPost writes for a Response,
// its document base64-encoded into the page, is the page of its
// SAMLResponse string (which checkPrecompiledPost holds to the
// template's), precompiled or through the template (no request ID),
// headers included, for documents of every length modulo 3 and bytes
// whose base64 holds + and /.
func TestRenderPostResponse(t *testing.T) {
	s := newTestServer(t, Config{}, "https://idp.example.com", nil)
	docs := map[string][]byte{
		"empty":      {},
		"one byte":   []byte("<"),
		"two bytes":  []byte("<x"),
		"+ and /":    []byte("\xfb\xff\xbf\xfb\xef<samlp:Response>\xff"),
		"a Response": bytes.Repeat([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="id-0a1b">&lt;é</samlp:Response>`), 80),
	}
	request := func(lang, id string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/saml/sso?SAMLRequest=fZJR%2B&RelayState=x&lang=fr", nil)
		return r.WithContext(i18n.NewContext(context.WithValue(r.Context(), requestIDKey, id), lang))
	}
	for name, doc := range docs {
		for _, relay := range []string{"", "https://flex.twilio.com/x?a=1&b=<2>"} {
			resp := &saml.Response{ACSURL: "https://flex.twilio.com/ac123/saml/acs?a=1&b=+", RelayState: relay, XML: doc}
			for _, lang := range i18n.Languages {
				for _, id := range []string{"0123456789abcdef", ""} {
					if id != "" {
						checkPrecompiledPost(t, s, postCase{method: http.MethodGet, target: request(lang, id).RequestURI, lang: lang, requestID: id,
							sp: "Twilio Flex", acs: resp.ACSURL, msg: resp.SAMLResponse(), relay: relay})
					}
					got, want := httptest.NewRecorder(), httptest.NewRecorder()
					s.renderPost(got, request(lang, id), "Twilio Flex", resp)
					s.renderForm(want, request(lang, id), page{Title: "title.post", SPName: "Twilio Flex", ACSURL: resp.ACSURL,
						SAMLResponse: resp.SAMLResponse(), RelayState: relay})
					if got.Code != want.Code || got.Body.String() != want.Body.String() {
						t.Errorf("%s, relay %q, %s, request ID %q: page %d %q, want %d %q", name, relay, lang, id,
							got.Code, got.Body.String(), want.Code, want.Body.String())
					}
					for _, k := range []string{"Content-Type", "Content-Language", "Content-Length", "Content-Security-Policy", "Vary"} {
						if g, w := got.Header().Values(k), want.Header().Values(k); !slices.Equal(g, w) {
							t.Errorf("%s, relay %q, %s, request ID %q: %s %q, want %q", name, relay, lang, id, k, g, w)
						}
					}
				}
			}
		}
	}
}

// TestRenderPostAllocatesNoBase64: renderPost encodes a Response's
// document into the page's pooled buffer; no base64 string of it is
// allocated, by the Response or by the page (an 8.7 KB document is an
// 11.6 KB string).
func TestRenderPostAllocatesNoBase64(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are counted without the race detector")
	}
	s, r := postPageRequest(t)
	doc := bytes.Repeat([]byte(`<saml:Attribute Name="roles"><saml:AttributeValue>agent</saml:AttributeValue></saml:Attribute>`), 8700/94)
	resp := &saml.Response{ACSURL: "https://flex.twilio.com/ac123/saml/acs", RelayState: "x", XML: doc}
	w := httptest.NewRecorder()
	write := func() {
		w.Body.Reset()
		w.HeaderMap = http.Header{}
		s.renderPost(w, r, "Twilio Flex", resp)
	}
	write() // the page's buffer, the recorder's, the policy kept
	const runs = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		write()
	}
	runtime.ReadMemStats(&after)
	perPage := int(after.TotalAlloc-before.TotalAlloc) / runs
	if encoded := base64.StdEncoding.EncodedLen(len(doc)); perPage >= encoded/4 {
		t.Errorf("renderPost allocated %d bytes per page of a %d-byte document (%d bytes in base64), want under %d",
			perPage, len(doc), encoded, encoded/4)
	}
	if !strings.Contains(w.Body.String(), `value="`+resp.SAMLResponse()+`"`) {
		t.Errorf("the page does not carry the document's base64")
	}
}

// TestPrecompiledAutoPostFallback: a page the precompiled pages do not
// cover goes through the template (writePost writes nothing).
func TestPrecompiledAutoPostFallback(t *testing.T) {
	s := newTestServer(t, Config{}, "https://idp.example.com", nil)
	for _, tc := range []struct {
		name, lang, id string
		p              page
	}{
		{"a message of its own (single logout)", i18n.Default, "ab", page{Title: "title.slo", Message: "Signing out", ACSURL: "https://x/slo"}},
		{"no request ID", i18n.Default, "", page{Title: "title.post", ACSURL: "https://x/acs"}},
		{"a language without a page", "xx", "ab", page{Title: "title.post", ACSURL: "https://x/acs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/saml/sso", nil)
			r = r.WithContext(i18n.NewContext(context.WithValue(r.Context(), requestIDKey, tc.id), tc.lang))
			w := httptest.NewRecorder()
			if s.writePost(w, r, tc.p) || w.Body.Len() != 0 || len(w.Header()) != 0 {
				t.Errorf("writePost wrote %d bytes, headers %v", w.Body.Len(), w.Header())
			}
		})
	}
}

// FuzzPrecompiledAutoPost: for any values and request address, the
// precompiled page is the template's.
func FuzzPrecompiledAutoPost(f *testing.F) {
	f.Add("Twilio Flex", "https://flex.twilio.com/acs?a=1&b=+", "PHNhbWw+Cg==", "https://x/?a=<b>", "SAMLRequest=a%2Bb&lang=fr", "ab12")
	f.Add("<&>\"'\x00", "javascript:x", "<&>\"'+\x00\xff", "\xff\ufdd0", `a="<>'%zz%4`, "<+>")
	s := newTestServer(f, Config{Dev: true, DevData: "dev <db>"}, "https://idp.example.com", nil)
	f.Fuzz(func(t *testing.T, sp, acs, msg, relay, query, id string) {
		if id == "" {
			return
		}
		target := "/saml/sso"
		if query != "" {
			target += "?" + query
		}
		if u, err := url.ParseRequestURI(target); err != nil || strings.ContainsAny(query, " #") || u.Path != "/saml/sso" {
			return // not a request target a client sends
		}
		for _, lang := range i18n.Languages {
			checkPrecompiledPost(t, s, postCase{method: http.MethodGet, target: target, lang: lang, requestID: id, sp: sp, acs: acs, msg: msg, relay: relay})
		}
	})
}

// BenchmarkAutoPost writes one auto-POST page (an 8 KB SAMLResponse, a
// RelayState, the language switch carrying an HTTP-Redirect query):
// precompiled (writePost, what every Response takes), with the policy
// around it and the document base64-encoded into the page (renderPost, as
// the SSO handler calls it), and through the template (executeForm, what
// it took before).
func BenchmarkAutoPost(b *testing.B) {
	s := newTestServer(b, Config{}, "https://idp.example.com", nil)
	const chunk = "PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46b2FzaXM+Cg=="
	msg := strings.Repeat(chunk, 8<<10/56)
	doc, _ := base64.StdEncoding.DecodeString(chunk)
	resp := &saml.Response{ACSURL: "https://flex.twilio.com/ac123/saml/acs", RelayState: "https://flex.twilio.com/",
		XML: bytes.Repeat(doc, base64.StdEncoding.DecodedLen(len(msg))/len(doc))} // encoded about as long as msg
	target := "/saml/sso?SAMLRequest=" + strings.Repeat("fZJRT%2BMwEITf%2BRWR35s4aXvcWU2qHghdJU5UJNwDb", 20) + "&RelayState=https%3A%2F%2Fflex.twilio.com%2F"
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r = r.WithContext(i18n.NewContext(context.WithValue(r.Context(), requestIDKey, "0123456789abcdef"), "fr"))
	p := page{Title: "title.post", SPName: "Twilio Flex", ACSURL: "https://flex.twilio.com/ac123/saml/acs", SAMLResponse: msg, RelayState: "https://flex.twilio.com/"}
	for _, bc := range []struct {
		name  string
		write func(http.ResponseWriter)
	}{
		{"precompiled", func(w http.ResponseWriter) { s.writePost(w, r, p) }},
		{"renderPost", func(w http.ResponseWriter) { s.renderPost(w, r, p.SPName, resp) }},
		{"template", func(w http.ResponseWriter) { s.executeForm(w, r, p) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				w.Body.Reset()
				w.HeaderMap = http.Header{}
				bc.write(w)
			}
		})
	}
}

// TestBase64Text: base64Text answers as isBase64 for every byte at every
// place, in the eight-byte steps and in the tail, and for short strings.
func TestBase64Text(t *testing.T) {
	const ok = "PHNhbWxwOlJlc3Bv+/=="
	for _, s := range []string{"", "=", "A", "PHNhbWxw", "PHNhbWxwO", ok, "PHNh bWxw", "PHNhbWxw\x00", "\xffPHNhbWxw"} {
		if got, want := base64Text(s), isBase64(s); got != want {
			t.Errorf("base64Text(%q) = %v, want %v", s, got, want)
		}
	}
	for c := range 256 {
		for at := range len(ok) {
			s := ok[:at] + string([]byte{byte(c)}) + ok[at+1:]
			if got, want := base64Text(s), isBase64(s); got != want {
				t.Fatalf("base64Text(%q) = %v, want %v", s, got, want)
			}
		}
	}
}
