package saml

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"
)

// Limits on an unauthenticated SAML message, checked before any SAML
// library sees it. A real AuthnRequest or LogoutRequest is a few KiB with
// a dozen elements nested four deep; these leave room for signatures and
// extensions, and refuse in microseconds what would otherwise cost memory
// or time.
const (
	// MaxMessageBytes bounds the decoded (inflated) XML.
	MaxMessageBytes = 64 << 10
	// MaxDepth bounds element nesting.
	MaxDepth = 32
	// MaxElements bounds the number of elements.
	MaxElements = 512
)

// message is a SAML protocol message as it arrived, decoded and checked by
// inspect.
type message struct {
	xml        []byte
	relayState string
	// redirect is true for the HTTP-Redirect binding (GET), false for
	// HTTP-POST.
	redirect bool
	// querySigned is true when a redirect's query carries a Signature or
	// SigAlg parameter (the binding's own signature).
	querySigned bool
}

// inspect extracts the param message ("SAMLRequest") from r with the
// HTTP-Redirect (GET) or HTTP-POST binding and refuses, with a
// *RequestError, anything that is not safe to hand to an XML parser: a
// repeated parameter, an over-long RelayState, a message that is not
// base64 (or DEFLATE for a redirect), inflates beyond MaxMessageBytes, is
// not well-formed, carries a DTD, entity declaration or processing
// instruction, or nests deeper than MaxDepth or wider than MaxElements.
func inspect(r *http.Request, param string) (message, error) {
	var values url.Values
	var m message
	switch r.Method {
	case http.MethodGet:
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return m, &RequestError{Reason: "The query string is malformed.", Err: err}
		}
		values, m.redirect = q, true
		m.querySigned = q.Has("Signature") || q.Has("SigAlg")
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return m, err // the HTTP layer answers 413
			}
			return m, &RequestError{Reason: "The form is malformed.", Err: err}
		}
		values = r.PostForm
	default:
		return m, &RequestError{Reason: "SAML messages arrive with GET (HTTP-Redirect) or POST (HTTP-POST), not " + r.Method + "."}
	}
	for _, p := range []string{param, "RelayState"} {
		if len(values[p]) > 1 {
			return m, &RequestError{Reason: fmt.Sprintf("The %s parameter is given more than once.", p)}
		}
	}
	raw := values.Get(param)
	if raw == "" {
		return m, &RequestError{Reason: fmt.Sprintf("The request has no %s parameter. Start from the application (Flex) again.", param)}
	}
	m.relayState = values.Get("RelayState")
	if len(m.relayState) > MaxEchoedRelayState {
		return m, &RequestError{Reason: fmt.Sprintf("The RelayState is longer than %d bytes.", MaxEchoedRelayState)}
	}
	if len(raw) > 2*MaxMessageBytes {
		return m, &RequestError{Reason: fmt.Sprintf("The %s is larger than flexidp accepts.", param)}
	}
	decoded, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return m, &RequestError{Reason: fmt.Sprintf("The %s parameter is not valid base64.", param), Err: err}
	}
	if m.redirect {
		decoded, err = inflate(decoded)
		if err != nil {
			return m, &RequestError{Reason: fmt.Sprintf("The %s parameter is not valid DEFLATE data (HTTP-Redirect binding) or inflates beyond %d KiB.", param, MaxMessageBytes>>10), Err: err}
		}
	}
	if len(decoded) > MaxMessageBytes {
		return m, &RequestError{Reason: fmt.Sprintf("The %s is larger than %d KiB.", param, MaxMessageBytes>>10)}
	}
	if err := checkXML(decoded); err != nil {
		return m, err
	}
	m.xml = decoded
	return m, nil
}

// inflate reads at most MaxMessageBytes+1 bytes of DEFLATE data, so a
// "zip bomb" costs no more than that. It inflates into a pooled buffer and
// returns a copy of exactly the message's size.
func inflate(b []byte) ([]byte, error) {
	fr := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(fr)
	// Reset clears whatever state (an error included) the last message
	// left; it cannot fail without a preset dictionary.
	if err := fr.(flate.Resetter).Reset(bytes.NewReader(b), nil); err != nil {
		return nil, err
	}
	buf := inflateBuffers.Get().(*[MaxMessageBytes + 1]byte)
	defer inflateBuffers.Put(buf)
	n := 0
	for n < len(buf) {
		m, err := fr.Read(buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if n > MaxMessageBytes {
		return nil, fmt.Errorf("inflates beyond %d bytes", MaxMessageBytes)
	}
	return bytes.Clone(buf[:n]), nil
}

// inflaters keeps DEFLATE readers for reuse: each holds a 32 KiB window
// and its decoding tables, about 40 KB allocated per new reader.
var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// inflateBuffers keeps the buffers messages are inflated into.
var inflateBuffers = sync.Pool{New: func() any { return new([MaxMessageBytes + 1]byte) }}

var (
	errDTD = &RequestError{Reason: "The SAML message contains a DTD or entity declaration (<!DOCTYPE, <!ENTITY), which flexidp refuses."}
	errPI  = &RequestError{Reason: "The SAML message contains a processing instruction, which flexidp refuses."}
)

// checkXML refuses DTDs (the root of XXE and "billion laughs"),
// processing instructions other than the XML declaration, documents that
// are not well-formed, and documents nested deeper than MaxDepth or with
// more than MaxElements elements. A document plainSAML vouches for (every
// honest message) passes without being tokenized; any other is tokenized
// by checkTokens, which says what is wrong with it.
func checkXML(doc []byte) error {
	// The quick, clear refusal; the tokenizer catches any spelling.
	if bytes.Contains(doc, []byte("<!DOCTYPE")) || bytes.Contains(doc, []byte("<!ENTITY")) {
		return errDTD
	}
	if plainSAML(doc) {
		return nil
	}
	return checkTokens(doc)
}

// checkTokens tokenizes doc with encoding/xml (strict) without building
// it, and refuses what checkXML refuses, each with its sentence.
func checkTokens(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	depth, elements, roots := 0, 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &RequestError{Reason: "The SAML message is not well-formed XML.", Err: err}
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errDTD
		case xml.ProcInst:
			if t.Target != "xml" {
				return errPI
			}
		case xml.StartElement:
			depth++
			elements++
			if depth == 1 {
				roots++
			}
			if depth > MaxDepth {
				return &RequestError{Reason: fmt.Sprintf("The SAML message nests elements deeper than %d.", MaxDepth)}
			}
			if elements > MaxElements {
				return &RequestError{Reason: fmt.Sprintf("The SAML message has more than %d elements.", MaxElements)}
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return &RequestError{Reason: "The SAML message is not well-formed XML: text outside the root element."}
			}
		}
	}
	if roots != 1 || depth != 0 {
		return &RequestError{Reason: "The SAML message is not well-formed XML: it must have exactly one root element."}
	}
	return nil
}

// plainSAML reports whether doc is certainly a document checkTokens
// accepts, by one pass over its bytes that allocates nothing: one root
// element, at most MaxDepth deep and MaxElements wide, each end tag
// closing the start tag it must; ASCII names (at most one colon); quoted
// attribute values and text made of XML characters (valid UTF-8) and the
// five predefined entities; comments; an XML declaration of version 1.0
// in UTF-8; white space outside the root. It answers false for anything
// else (a DTD, a processing instruction, a character reference, CDATA, a
// non-ASCII name, a limit reached, a syntax error): it only decides when
// a document is plain, never why one is not, so it refuses nothing
// itself and checkTokens sees every document it does not vouch for.
// FuzzPlainSAML holds that it never vouches for one checkTokens refuses.
func plainSAML(doc []byte) bool {
	var open [MaxDepth][]byte // the names of the open elements, as written
	depth, elements, roots := 0, 0, 0
	for i, n := 0, len(doc); i < n; {
		if doc[i] != '<' {
			end := n
			if j := bytes.IndexByte(doc[i:], '<'); j >= 0 {
				end = i + j
			}
			if depth == 0 && !xmlSpace(doc[i:end]) || depth > 0 && !plainText(doc[i:end], 0) {
				return false
			}
			i = end
			continue
		}
		if i+1 >= n {
			return false
		}
		switch doc[i+1] {
		case '/':
			j, ok := plainName(doc, i+2)
			if !ok || depth == 0 || !bytes.Equal(open[depth-1], doc[i+2:j]) {
				return false
			}
			if j = skipXMLSpace(doc, j); j >= n || doc[j] != '>' {
				return false
			}
			depth--
			i = j + 1
		case '!':
			// A comment; the first "--" in it must end it.
			if !bytes.HasPrefix(doc[i:], []byte("<!--")) {
				return false
			}
			j := bytes.Index(doc[i+4:], []byte("--"))
			if j < 0 || i+4+j+2 >= n || doc[i+4+j+2] != '>' {
				return false
			}
			i += 4 + j + 3
		case '?':
			j, ok := xmlDecl(doc[i:])
			if !ok {
				return false
			}
			i += j
		default:
			j, ok := plainName(doc, i+1)
			if !ok {
				return false
			}
			if depth == 0 {
				if roots++; roots > 1 {
					return false
				}
			}
			if depth++; depth > MaxDepth {
				return false
			}
			if elements++; elements > MaxElements {
				return false
			}
			open[depth-1] = doc[i+1 : j]
			end, empty, ok := plainAttributes(doc, j)
			if !ok {
				return false
			}
			if empty { // <a/> is its own end tag
				depth--
			}
			i = end
		}
	}
	return roots == 1 && depth == 0
}

// plainAttributes reads the attributes of a start tag from doc[i:] (right
// after its name) up to and including its > or />, and returns where the
// tag ends and whether it was />. Like encoding/xml, it needs no white
// space between a value's closing quote and the next name.
func plainAttributes(doc []byte, i int) (end int, empty, ok bool) {
	n := len(doc)
	for {
		if i = skipXMLSpace(doc, i); i >= n {
			return 0, false, false
		}
		switch doc[i] {
		case '>':
			return i + 1, false, true
		case '/':
			return i + 2, true, i+1 < n && doc[i+1] == '>'
		}
		j, ok := plainName(doc, i)
		if !ok {
			return 0, false, false
		}
		if j = skipXMLSpace(doc, j); j >= n || doc[j] != '=' {
			return 0, false, false
		}
		if j = skipXMLSpace(doc, j+1); j >= n || doc[j] != '"' && doc[j] != '\'' {
			return 0, false, false
		}
		v := bytes.IndexByte(doc[j+1:], doc[j])
		if v < 0 || !plainText(doc[j+1:j+1+v], doc[j]) {
			return 0, false, false
		}
		i = j + 1 + v + 1
	}
}

// plainName returns the end of the ASCII XML name at doc[i:], which has at
// most one colon; false for none, or a name with other bytes.
func plainName(doc []byte, i int) (int, bool) {
	if i >= len(doc) || !nameStart(doc[i]) {
		return 0, false
	}
	colons := 0
	j := i
	for ; j < len(doc) && nameByte(doc[j]); j++ {
		if doc[j] == ':' {
			colons++
		}
	}
	if colons > 1 || j < len(doc) && doc[j] >= utf8.RuneSelf {
		return 0, false
	}
	return j, true
}

func nameStart(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == ':'
}

func nameByte(c byte) bool {
	return nameStart(c) || '0' <= c && c <= '9' || c == '.' || c == '-'
}

// plainText reports whether s, text (quote 0) or an attribute value
// between quote characters, is made of XML characters in valid UTF-8 and
// the predefined entities, without < (or ]]> in text).
func plainText(s []byte, quote byte) bool {
	for k := 0; k < len(s); {
		switch c := s[k]; {
		case c == '&':
			l := predefinedEntity(s[k:])
			if l == 0 {
				return false
			}
			k += l
		case c == '<':
			return false
		case c == ']' && quote == 0 && bytes.HasPrefix(s[k:], []byte("]]>")):
			return false
		case c < 0x20:
			if c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			k++
		case c < utf8.RuneSelf:
			k++
		default:
			r, size := utf8.DecodeRune(s[k:])
			if r == utf8.RuneError && size == 1 || r > 0xD7FF && r < 0xE000 || r == 0xFFFE || r == 0xFFFF {
				return false
			}
			k += size
		}
	}
	return true
}

// predefinedEntity returns the length of the reference to one of XML's
// five predefined entities at the start of s, or 0.
func predefinedEntity(s []byte) int {
	for _, e := range [...]string{"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"} {
		if len(s) >= len(e) && string(s[:len(e)]) == e {
			return len(e)
		}
	}
	return 0
}

// xmlDecl returns the length of the XML declaration at the start of s
// when it declares version 1.0 and UTF-8 (or nothing) and is written
// plainly: name="value" pairs of version, encoding and standalone,
// separated by white space.
func xmlDecl(s []byte) (int, bool) {
	if !bytes.HasPrefix(s, []byte("<?xml")) || len(s) < 6 || s[5] != '?' && !isXMLSpace(s[5]) {
		return 0, false
	}
	end := bytes.Index(s[5:], []byte("?>"))
	if end < 0 {
		return 0, false
	}
	content := s[5 : 5+end]
	for len(content) > 0 {
		i := skipXMLSpace(content, 0)
		j := i
		for j < len(content) && !isXMLSpace(content[j]) {
			j++
		}
		if i < j && !declParam(string(content[i:j])) {
			return 0, false
		}
		content = content[j:]
	}
	return 5 + end + 2, true
}

// declParam reports whether p is one of the XML declaration's parameters
// encoding/xml accepts, as most documents write it.
func declParam(p string) bool {
	key, value, ok := strings.Cut(p, "=")
	if !ok || len(value) < 2 || value[0] != '"' && value[0] != '\'' || value[len(value)-1] != value[0] {
		return false
	}
	value = value[1 : len(value)-1]
	switch key {
	case "version":
		return value == "1.0"
	case "encoding":
		return strings.EqualFold(value, "utf-8")
	case "standalone":
		return value == "yes" || value == "no"
	}
	return false
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// xmlSpace reports whether s is only XML white space.
func xmlSpace(s []byte) bool {
	for _, c := range s {
		if !isXMLSpace(c) {
			return false
		}
	}
	return true
}

func skipXMLSpace(s []byte, i int) int {
	for i < len(s) && isXMLSpace(s[i]) {
		i++
	}
	return i
}
