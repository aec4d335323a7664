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
	"sync"
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
// "zip bomb" costs no more than that.
func inflate(b []byte) ([]byte, error) {
	fr := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(fr)
	// Reset clears whatever state (an error included) the last message
	// left; it cannot fail without a preset dictionary.
	if err := fr.(flate.Resetter).Reset(bytes.NewReader(b), nil); err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(fr, MaxMessageBytes+1))
	if err != nil {
		return nil, err
	}
	if len(out) > MaxMessageBytes {
		return nil, fmt.Errorf("inflates beyond %d bytes", MaxMessageBytes)
	}
	return out, nil
}

// inflaters keeps DEFLATE readers for reuse: each holds a 32 KiB window
// and its decoding tables, about 40 KB allocated per new reader.
var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

var (
	errDTD = &RequestError{Reason: "The SAML message contains a DTD or entity declaration (<!DOCTYPE, <!ENTITY), which flexidp refuses."}
	errPI  = &RequestError{Reason: "The SAML message contains a processing instruction, which flexidp refuses."}
)

// checkXML tokenizes doc without building it and refuses DTDs (the root of
// XXE and "billion laughs"), processing instructions other than the XML
// declaration, and documents nested deeper than MaxDepth or with more than
// MaxElements elements.
func checkXML(doc []byte) error {
	// The quick, clear refusal; the tokenizer below catches any spelling.
	if bytes.Contains(doc, []byte("<!DOCTYPE")) || bytes.Contains(doc, []byte("<!ENTITY")) {
		return errDTD
	}
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
