package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Branding is what an organisation shows on every page: its name, its
// logo, an accent colour and a support contact line. The zero value shows
// flexidp's own look. Every field is text or validated bytes: the pages
// escape the text, the colour is served in a generated stylesheet
// (/branding.css) and the logo from this origin (/branding/logo), so the
// Content-Security-Policy is unchanged.
type Branding struct {
	// OrgName is shown above every page and in the title (≤ 100
	// characters, no control characters).
	OrgName string
	// Logo is a PNG, JPEG, GIF or WebP image (≤ MaxLogoBytes), served at
	// /branding/logo. SVG is refused: it can carry scripts.
	Logo []byte
	// AccentColour (#rrggbb) colours buttons and links; white button text
	// on it must meet WCAG AA (4.5:1).
	AccentColour string
	// SupportContact is one line shown at the foot of every page, e.g.
	// "Help: it-help@example.com or ext. 4357" (≤ 200 characters).
	SupportContact string
}

// MaxLogoBytes is the largest logo accepted.
const MaxLogoBytes = 256 << 10

// minAccentContrast is WCAG AA for normal text: white button text on the
// accent colour, and accent links on the white page.
const minAccentContrast = 4.5

// Compiled on first use, not at package init, which every start pays
// (docs/performance.md, "Idle memory").
var colourRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^#[0-9a-fA-F]{6}$`) })

// logoTypes are the image types a logo may be, as sniffed.
var logoTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// Validate refuses branding that cannot be shown safely, with a sentence
// naming the setting.
func (b Branding) Validate() error {
	if err := checkLine(b.OrgName, 100); err != nil {
		return fmt.Errorf("the organisation name %w (IDP_ORG_NAME)", err)
	}
	if err := checkLine(b.SupportContact, 200); err != nil {
		return fmt.Errorf("the support contact line %w (IDP_SUPPORT_CONTACT)", err)
	}
	if b.AccentColour != "" {
		if !colourRE().MatchString(b.AccentColour) {
			return fmt.Errorf("the accent colour %q is not a colour written #rrggbb, e.g. #0263e0 (IDP_ACCENT_COLOUR)", b.AccentColour)
		}
		if c := contrastWithWhite(b.AccentColour); c < minAccentContrast {
			return fmt.Errorf("the accent colour %s is too light: white button text on it has a contrast of %.1f:1, and WCAG AA needs %.1f:1; choose a darker colour (IDP_ACCENT_COLOUR)",
				b.AccentColour, c, minAccentContrast)
		}
	}
	if b.Logo != nil {
		if len(b.Logo) == 0 || len(b.Logo) > MaxLogoBytes {
			return fmt.Errorf("the logo is %d bytes; it must be an image of at most %d KiB (IDP_ORG_LOGO_FILE)", len(b.Logo), MaxLogoBytes>>10)
		}
		if t := http.DetectContentType(b.Logo); !logoTypes[t] {
			return fmt.Errorf("the logo is %s, not a PNG, JPEG, GIF or WebP image (SVG is refused: it can carry scripts) (IDP_ORG_LOGO_FILE)", t)
		}
	}
	return nil
}

// ReadLogo reads a logo file for Branding.Logo, refusing a file larger
// than MaxLogoBytes before reading it whole.
func ReadLogo(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("the logo file cannot be read: %w (IDP_ORG_LOGO_FILE)", err)
	}
	if fi.Size() > MaxLogoBytes {
		return nil, fmt.Errorf("the logo file %s is %d KiB; at most %d KiB is accepted (IDP_ORG_LOGO_FILE)", path, fi.Size()>>10, MaxLogoBytes>>10)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the logo file cannot be read: %w (IDP_ORG_LOGO_FILE)", err)
	}
	return b, nil
}

// checkLine accepts an empty line, or at most max characters of valid
// UTF-8 without control characters or line breaks.
func checkLine(s string, max int) error {
	switch {
	case !utf8.ValidString(s):
		return fmt.Errorf("is not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		return fmt.Errorf("is %d characters; at most %d are allowed", utf8.RuneCountInString(s), max)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%q must not start or end with spaces", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%q contains a control character or line break; it must be one line", s)
		}
	}
	return nil
}

// contrastWithWhite is the WCAG contrast ratio of white on the colour
// #rrggbb.
func contrastWithWhite(hex string) float64 {
	lum := 0.0
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		lum += w * c
	}
	return 1.05 / (lum + 0.05)
}

// brandView is the branding a template shows.
type brandView struct {
	OrgName, SupportContact string
	Logo, Accent            bool
}

// Name is the organisation's name, or flexidp.
func (v brandView) Name() string {
	if v.OrgName != "" {
		return v.OrgName
	}
	return "flexidp"
}

func (s *Server) brandView() brandView {
	b := s.cfg.Branding
	return brandView{OrgName: b.OrgName, SupportContact: b.SupportContact, Logo: len(b.Logo) > 0, Accent: b.AccentColour != ""}
}

// brandingCSS serves the accent colour as a stylesheet: the CSP forbids
// inline styles, and the colour was validated as #rrggbb.
func (s *Server) brandingCSS(w http.ResponseWriter, r *http.Request) {
	c := strings.ToLower(s.cfg.Branding.AccentColour)
	if c == "" {
		s.fail(w, r, errNoPage)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = fmt.Fprintf(w, "button:not(.secondary){background:%s}\na{color:%s}\n", c, c)
}

// brandingLogo serves the logo with its sniffed image type.
func (s *Server) brandingLogo(w http.ResponseWriter, r *http.Request) {
	logo := s.cfg.Branding.Logo
	if len(logo) == 0 {
		s.fail(w, r, errNoPage)
		return
	}
	w.Header().Set("Content-Type", http.DetectContentType(logo))
	w.Header().Set("Content-Length", strconv.Itoa(len(logo)))
	_, _ = w.Write(logo)
}

// spLabel is the name people read for the SP called name (its display
// name), or name itself when it has none or cannot be read now.
func (s *Server) spLabel(ctx context.Context, name string) string {
	if name == "" {
		return ""
	}
	p, err := s.store.GetServiceProvider(ctx, name)
	if err != nil {
		return name
	}
	return p.Label()
}
