package server

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/flexidp/flexidp/internal/i18n"
)

// The auto-POST page is what every Response is answered with, so it is
// not executed by html/template on each request: the "post" page of each
// language is executed once, at start, with a mark in place of each value
// that varies per request, and cut at the marks (postPage). A request
// writes the pieces with its values between them, each escaped by the
// rules html/template applies in that place (appendAttr, appendURLAttr,
// appendHTML). TestPrecompiledAutoPost holds the bytes equal to the
// template's.

// postSlot is a value of the auto-POST page that varies per request.
type postSlot uint8

const (
	slotSP        postSlot = iota // the SP's name in the sentence (th: HTML-escaped)
	slotACS                       // the form's action (a URL attribute)
	slotMessage                   // the SAMLResponse (an attribute value)
	slotRelay                     // the RelayState (an attribute value)
	slotRequestID                 // the request ID in the footer (text)
	postSlots
)

// postMarks stand for the slots in the executed page: letters and digits
// only, which no escaper changes and no catalog sentence holds.
var postMarks = [postSlots]string{"flexidp0post0mark0A", "flexidp0post0mark0B", "flexidp0post0mark0C",
	"flexidp0post0mark0D", "flexidp0post0mark0E"}

// postPage is the auto-POST page of one language, cut at its slots:
// parts[0], the value of slots[0], parts[1], … parts[len(slots)].
type postPage struct {
	parts [][]byte
	slots []postSlot
	size  int // of the parts, to size the buffer
}

// postPages are the precompiled auto-POST pages by language, without and
// with a RelayState ({{if .RelayState}} in the template), each language's
// cut on its first use (its templates are parsed then too: pageSet).
type postPages map[string]func() [2]*postPage

// precompilePosts prepares the "post" page of every language, executed
// with marks and cut on first use. A language whose page does not cut
// cleanly (a mark missing, or where it was not put) gets none: its pages
// go through the template.
func (s *Server) precompilePosts() postPages {
	out := postPages{}
	for _, lang := range i18n.Languages {
		out[lang] = sync.OnceValue(func() [2]*postPage { return s.precompilePost(lang) })
	}
	return out
}

// precompilePost executes lang's "post" page with marks and cuts it; both
// nil when either does not cut cleanly.
func (s *Server) precompilePost(lang string) [2]*postPage {
	var pp [2]*postPage
	t, err := s.pages.page(lang, "post")
	if err != nil {
		return pp
	}
	for relay := range pp {
		p := page{Title: "title.post", SPName: postMarks[slotSP], ACSURL: postMarks[slotACS], SAMLResponse: postMarks[slotMessage],
			Dev: s.cfg.Dev, DevData: s.cfg.DevData, Brand: s.brandView(), RequestID: postMarks[slotRequestID], Lang: lang}
		if relay == 1 {
			p.RelayState = postMarks[slotRelay]
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, "base", p); err != nil {
			return [2]*postPage{}
		}
		pp[relay] = cutPostPage(buf.Bytes(), relay == 1)
	}
	if pp[0] == nil || pp[1] == nil {
		return [2]*postPage{}
	}
	return pp
}

// cutPostPage cuts an executed page at its marks; nil when a slot is not
// there as often as the page holds it (the RelayState only when relay).
func cutPostPage(b []byte, relay bool) *postPage {
	pp := &postPage{}
	count := [postSlots]int{}
	for {
		at, slot := -1, postSlot(0)
		for i, m := range postMarks {
			if j := bytes.Index(b, []byte(m)); j >= 0 && (at < 0 || j < at) {
				at, slot = j, postSlot(i)
			}
		}
		if at < 0 {
			break
		}
		pp.parts = append(pp.parts, bytes.Clone(b[:at]))
		pp.slots = append(pp.slots, slot)
		pp.size += at
		count[slot]++
		b = b[at+len(postMarks[slot]):]
	}
	pp.parts = append(pp.parts, bytes.Clone(b))
	pp.size += len(b)
	for slot, n := range count {
		switch postSlot(slot) {
		case slotRelay:
			if relay && n < 1 || !relay && n != 0 {
				return nil
			}
		default:
			if n < 1 {
				return nil
			}
		}
	}
	return pp
}

// writePost answers r with the precompiled auto-POST page for p, as
// renderWith would; false (nothing written) when there is none for it:
// a page with a message of its own (single logout), a request without a
// request ID, a language without a precompiled page.
func (s *Server) writePost(w http.ResponseWriter, r *http.Request, p page) bool {
	lang, id := i18n.FromContext(r.Context()), requestIDFrom(r.Context())
	cut, ok := s.posts[lang]
	if p.Message != "" || p.Console != nil || id == "" || !ok {
		return false
	}
	pages := cut()
	if pages[0] == nil {
		return false
	}
	relay := 0
	if p.RelayState != "" {
		relay = 1
	}
	pp := pages[relay]
	bp := postBuffers.Get().(*[]byte)
	b := (*bp)[:0]
	if need := pp.size + len(p.SAMLResponse) + base64.StdEncoding.EncodedLen(len(p.message)) + 256; cap(b) < need {
		b = make([]byte, 0, need)
	}
	for i, slot := range pp.slots {
		b = append(b, pp.parts[i]...)
		switch slot {
		case slotSP:
			b = appendHTML(b, p.SPName)
		case slotACS:
			b = appendURLAttr(b, p.ACSURL)
		case slotMessage:
			if p.message != nil { // a Response: encoded here, nothing in base64 to escape
				b = base64.StdEncoding.AppendEncode(b, p.message)
			} else if base64Text(p.SAMLResponse) {
				b = append(b, p.SAMLResponse...) // nothing in it to escape
			} else {
				b = appendAttr(b, p.SAMLResponse)
			}
		case slotRelay:
			b = appendAttr(b, p.RelayState)
		case slotRequestID:
			b = appendAttr(b, id)
		}
	}
	b = append(b, pp.parts[len(pp.slots)]...)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", lang)
	h.Add("Vary", "Accept-Language, Cookie")
	// The length is known: the page goes out with its header in one write,
	// not in chunks.
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= 1<<20 {
		*bp = b
		postBuffers.Put(bp)
	}
	return true
}

// base64Text is isBase64, eight bytes a step: a SAMLResponse given as a
// string (8 to 16 KB) is checked, and a branch per byte was half of
// writePost's own time. A Response's document, encoded in place, is not.
func base64Text(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		if base64Bytes[w[0]]&base64Bytes[w[1]]&base64Bytes[w[2]]&base64Bytes[w[3]]&
			base64Bytes[w[4]]&base64Bytes[w[5]]&base64Bytes[w[6]]&base64Bytes[w[7]] == 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if base64Bytes[s[i]] == 0 {
			return false
		}
	}
	return true
}

// base64Bytes is base64Chars as 1 and 0, to be and-ed together.
var base64Bytes = func() (t [256]uint8) {
	for c, ok := range base64Chars {
		if ok {
			t[c] = 1
		}
	}
	return t
}()

// postBuffers keeps the buffers auto-POST pages are written into.
var postBuffers = sync.Pool{New: func() any { return new([]byte) }}

// appendAttr appends s as html/template escapes a value in a quoted
// attribute or in text (htmlReplacementTable: NUL, quotes, &, +, <, >;
// any other byte, invalid UTF-8 included, as it is).
func appendAttr(b []byte, s string) []byte { return appendEscaped(b, s, true) }

// appendHTML appends s as template.HTMLEscapeString escapes it (what
// i18n.HTML does to a sentence's arguments): as appendAttr, but + as it
// is.
func appendHTML(b []byte, s string) []byte { return appendEscaped(b, s, false) }

func appendEscaped(b []byte, s string, plus bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0:
			b = append(b, "\uFFFD"...)
		case c == '"':
			b = append(b, "&#34;"...)
		case c == '&':
			b = append(b, "&amp;"...)
		case c == '\'':
			b = append(b, "&#39;"...)
		case c == '+' && plus:
			b = append(b, "&#43;"...)
		case c == '<':
			b = append(b, "&lt;"...)
		case c == '>':
			b = append(b, "&gt;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendURLAttr appends s as html/template writes it into a URL
// attribute (href, action): a scheme other than http, https or mailto
// becomes "#ZgotmplZ"; the URL is normalised (every byte outside RFC
// 3986's reserved and unreserved sets, and a % not followed by two hex
// digits, percent-encoded in lower case); then & and + are escaped as in
// any attribute.
func appendURLAttr(b []byte, s string) []byte {
	if protocol, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(protocol, "/") &&
		!strings.EqualFold(protocol, "http") && !strings.EqualFold(protocol, "https") && !strings.EqualFold(protocol, "mailto") {
		s = "#ZgotmplZ"
	}
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		if urlPlain[s[i]] { // copied as it is, with the bytes like it after it
			j := i + 1
			for j < len(s) && urlPlain[s[j]] {
				j++
			}
			b = append(b, s[i:j]...)
			if i = j; i == len(s) {
				break
			}
		}
		c := s[i]
		switch {
		case c == '&':
			b = append(b, "&amp;"...)
		case c == '+':
			b = append(b, "&#43;"...)
		case urlKept[c], c == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]):
			b = append(b, c)
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// urlKept are the bytes URL normalisation keeps: RFC 3986's unreserved
// and reserved characters but quotes and parentheses.
var urlKept = func() (k [256]bool) {
	for c := range 256 {
		k[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&*+,/:;=?@[]-._~", byte(c)) >= 0
	}
	return k
}()

// urlPlain are the bytes appendURLAttr copies as they are: kept by URL
// normalisation and not escaped in an attribute.
var urlPlain = func() (k [256]bool) {
	for c := range 256 {
		k[c] = urlKept[c] && c != '&' && c != '+'
	}
	return k
}()

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
