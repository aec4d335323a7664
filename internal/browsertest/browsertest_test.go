package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestScanUnderStrictCSP: axe-core is injected and runs on a page whose
// Content-Security-Policy forbids inline and eval'd script (as flexidp's
// pages do), and it reports a field without a label as a serious or
// critical violation, with the element; the same page with the label has none.
func TestScanUnderStrictCSP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; base-uri 'none'; form-action 'self'")
		label := `<label for="code">Code</label>`
		if r.URL.Path == "/unlabelled" {
			label = ""
		}
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Scan</title></head>
<body><main><h1>Scan</h1><form method="post">%s<input id="code" name="code" type="text"><button type="submit">Go</button></form></main>
<script>document.title = "inline script ran"</script></body></html>`, label)
	}))
	t.Cleanup(srv.Close)
	ctx := New(t)

	for _, c := range []struct {
		path string
		want []string // serious or critical rule ids
	}{
		{"/labelled", nil},
		{"/unlabelled", []string{"label"}},
	} {
		t.Run(c.path, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+c.path)); err != nil {
				t.Fatal(err)
			}
			// The CSP is in force: the page's inline script did not run.
			if title, err := chromedp.Run(ctx, chromedp.Title()); err != nil || title != "Scan" {
				t.Fatalf("title %q (%v): the page's inline script ran, so its CSP is not in force and the scan below proves nothing", title, err)
			}
			var got []string
			for _, v := range Serious(Scan(ctx, t)) {
				got = append(got, v.ID)
				if v.ID == "label" && !slices.Contains(v.Targets, "#code") {
					t.Errorf("label violation names %v, want #code", v.Targets)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("serious violations %v, want %v", got, c.want)
			}
		})
	}
}
