package scim

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The filter grammar of RFC 7644 section 3.4.2.2, parsed by hand: it is
// small, and a parser of our own bounds what a hostile filter may cost
// before anything is allocated for it (its length, its nesting and its
// number of terms), and says in its error where the filter went wrong.
const (
	// MaxFilterLength bounds a filter, in bytes. Okta and Entra send a
	// single comparison of well under 300.
	MaxFilterLength = 2048
	// maxFilterDepth bounds the nesting of parentheses, "not" and value
	// paths.
	maxFilterDepth = 10
	// maxFilterTerms bounds the comparisons of one filter.
	maxFilterTerms = 64
)

// expr is a parsed filter.
type expr interface{ isExpr() }

// logical is "and" or "or".
type logical struct {
	op          string
	left, right expr
}

type negation struct{ x expr }

// comparison is "attr op value" ("pr" has no value).
type comparison struct {
	path  attrPath
	op    string
	value any // string, float64, bool or nil
}

// valueFilter is a value path: "emails[type eq "work"]".
type valueFilter struct {
	path   attrPath
	filter expr
}

func (logical) isExpr()     {}
func (negation) isExpr()    {}
func (comparison) isExpr()  {}
func (valueFilter) isExpr() {}

// attrPath is "[URN:]attr[.sub]".
type attrPath struct {
	urn, attr, sub string
}

func (p attrPath) String() string {
	s := p.attr
	if p.sub != "" {
		s += "." + p.sub
	}
	if p.urn != "" {
		s = p.urn + ":" + s
	}
	return s
}

// filterError is a filter that cannot be used; it becomes a SCIM 400 with
// scimType invalidFilter (or invalidPath in a PATCH path).
type filterError struct{ msg string }

func (e *filterError) Error() string { return e.msg }

func filterErrorf(format string, args ...any) error {
	return &filterError{msg: fmt.Sprintf(format, args...)}
}

type tokenKind int

const (
	tEOF tokenKind = iota
	tWord
	tString
	tNumber
	tOpen      // (
	tClose     // )
	tOpenBrak  // [
	tCloseBrak // ]
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

// lex splits a filter into tokens.
func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(':
			out = append(out, token{tOpen, "(", i})
			i++
		case c == ')':
			out = append(out, token{tClose, ")", i})
			i++
		case c == '[':
			out = append(out, token{tOpenBrak, "[", i})
			i++
		case c == ']':
			out = append(out, token{tCloseBrak, "]", i})
			i++
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return nil, filterErrorf("the string that starts at character %d is not closed", i+1)
			}
			var v string
			if err := json.Unmarshal([]byte(s[i:j+1]), &v); err != nil {
				return nil, filterErrorf("the string at character %d is not a valid JSON string", i+1)
			}
			out = append(out, token{tString, v, i})
			i = j + 1
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && strings.IndexByte("0123456789.eE+-", s[j]) >= 0 {
				j++
			}
			out = append(out, token{tNumber, s[i:j], i})
			i = j
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, token{tWord, s[i:j], i})
			i = j
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, filterErrorf("unexpected character %q at character %d", r, i+1)
		}
	}
	return append(out, token{tEOF, "", len(s)}), nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == ':' || c == '_' || c == '-' || c == '$'
}

type parser struct {
	toks  []token
	i     int
	depth int
	terms int
	// known reports whether an attribute path names an attribute of the
	// resource (nil: any).
	known func(attrPath) bool
}

// parseFilter parses a SCIM filter; known, when set, refuses attribute
// paths the resource does not have.
func parseFilter(s string, known func(attrPath) bool) (expr, error) {
	if len(s) > MaxFilterLength {
		return nil, filterErrorf("the filter is %d bytes long; at most %d are accepted", len(s), MaxFilterLength)
	}
	if !utf8.ValidString(s) {
		return nil, filterErrorf("the filter is not valid UTF-8")
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, known: known}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, filterErrorf("unexpected %q at character %d", t.text, t.pos+1)
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) keyword(word string) bool {
	t := p.peek()
	if t.kind == tWord && strings.EqualFold(t.text, word) {
		p.i++
		return true
	}
	return false
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxFilterDepth {
		return filterErrorf("the filter nests deeper than %d levels", maxFilterDepth)
	}
	return nil
}

func (p *parser) or() (expr, error) { return p.binary("or", p.and) }

func (p *parser) and() (expr, error) { return p.binary("and", p.unary) }

// binary parses operands joined by the keyword op, left to right.
func (p *parser) binary(op string, operand func() (expr, error)) (expr, error) {
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for p.keyword(op) {
		right, err := operand()
		if err != nil {
			return nil, err
		}
		left = logical{op, left, right}
	}
	return left, nil
}

func (p *parser) unary() (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	t := p.peek()
	if t.kind == tWord && strings.EqualFold(t.text, "not") && p.toks[p.i+1].kind == tOpen {
		p.i++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return negation{x}, nil
	}
	if t.kind == tOpen {
		p.i++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tClose {
			return nil, filterErrorf("expected ')' at character %d", c.pos+1)
		}
		return x, nil
	}
	return p.attrExpr()
}

var filterOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "ge": true, "lt": true, "le": true, "pr": true}

func (p *parser) attrExpr() (expr, error) {
	t := p.next()
	if t.kind != tWord {
		if t.kind == tEOF {
			return nil, filterErrorf("the filter ends where an attribute name was expected")
		}
		return nil, filterErrorf("expected an attribute name at character %d, found %q", t.pos+1, t.text)
	}
	path, err := splitPath(t.text)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tOpenBrak {
		p.i++
		if path.sub != "" {
			return nil, filterErrorf("%q: a value filter applies to an attribute, not a sub-attribute", t.text)
		}
		if err := p.checkKnown(path); err != nil {
			return nil, err
		}
		if err := p.enter(); err != nil {
			return nil, err
		}
		known := p.known
		p.known = func(sub attrPath) bool {
			return known == nil || (sub.urn == "" && sub.sub == "" && known(attrPath{urn: path.urn, attr: path.attr, sub: sub.attr}))
		}
		inner, err := p.or()
		p.known, p.depth = known, p.depth-1
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tCloseBrak {
			return nil, filterErrorf("expected ']' at character %d", c.pos+1)
		}
		return valueFilter{path, inner}, nil
	}
	if err := p.checkKnown(path); err != nil {
		return nil, err
	}
	p.terms++
	if p.terms > maxFilterTerms {
		return nil, filterErrorf("the filter has more than %d comparisons", maxFilterTerms)
	}
	opTok := p.next()
	op := strings.ToLower(opTok.text)
	if opTok.kind != tWord || !filterOps[op] {
		return nil, filterErrorf("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after %q at character %d", t.text, opTok.pos+1)
	}
	if op == "pr" {
		return comparison{path: path, op: op}, nil
	}
	v := p.next()
	var value any
	switch v.kind {
	case tString:
		value = v.text
	case tNumber:
		f, err := strconv.ParseFloat(v.text, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, filterErrorf("%q at character %d is not a number", v.text, v.pos+1)
		}
		value = f
	case tWord:
		switch strings.ToLower(v.text) {
		case "true":
			value = true
		case "false":
			value = false
		case "null":
			value = nil
		default:
			return nil, filterErrorf("expected a value (a quoted string, a number, true, false or null) at character %d, found %q", v.pos+1, v.text)
		}
	default:
		return nil, filterErrorf("expected a value after %q at character %d", opTok.text, v.pos+1)
	}
	return comparison{path: path, op: op, value: value}, nil
}

func (p *parser) checkKnown(path attrPath) error {
	if p.known != nil && !p.known(path) {
		return filterErrorf("%q is not an attribute that can be filtered on", path.String())
	}
	return nil
}

// splitPath reads "[URN:]attr[.sub]".
func splitPath(s string) (attrPath, error) {
	var p attrPath
	if strings.HasPrefix(strings.ToLower(s), "urn:") {
		i := strings.LastIndexByte(s, ':')
		p.urn, s = s[:i], s[i+1:]
	}
	attr, sub, _ := strings.Cut(s, ".")
	if attr == "" || strings.ContainsAny(attr, ":") || strings.ContainsAny(sub, ":") {
		return attrPath{}, filterErrorf("%q is not an attribute path", s)
	}
	p.attr, p.sub = attr, sub
	return p, nil
}

// Evaluation. A resource is evaluated in its JSON form (map[string]any,
// as encoding/json decodes it), so that the filter sees exactly what a
// client reads; attribute names are case-insensitive (RFC 7643 2.1).

// caseExact lists the attributes compared case-sensitively (RFC 7643:
// id, externalId, meta.version and $ref are caseExact; userName, emails
// and the rest are not).
var caseExact = map[string]bool{"id": true, "externalid": true, "version": true, "$ref": true, "value": false}

// match reports whether the resource r satisfies e; core is the URN of
// the resource's core schema (an attribute path naming it is top level).
func match(e expr, r map[string]any, core string) bool {
	switch e := e.(type) {
	case logical:
		if e.op == "and" {
			return match(e.left, r, core) && match(e.right, r, core)
		}
		return match(e.left, r, core) || match(e.right, r, core)
	case negation:
		return !match(e.x, r, core)
	case valueFilter:
		for _, el := range asList(lookup(r, e.path.urn, e.path.attr, core)) {
			if m, ok := el.(map[string]any); ok && match(e.filter, m, "") {
				return true
			}
		}
		return false
	case comparison:
		vals := values(r, e.path, core)
		exact := caseExact[strings.ToLower(e.path.attr)] || (e.path.sub != "" && caseExact[strings.ToLower(e.path.sub)])
		if e.op == "pr" {
			for _, v := range vals {
				if present(v) {
					return true
				}
			}
			return false
		}
		if e.value == nil {
			present := false
			for _, v := range vals {
				present = present || v != nil
			}
			return (e.op == "eq") != present
		}
		for _, v := range vals {
			if compare(e.op, v, e.value, exact) {
				return true
			}
		}
		return e.op == "ne" && len(vals) == 0
	}
	return false
}

func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

// lookup returns the attribute attr of r (in the extension urn, unless
// urn is "" or core), matching names case-insensitively.
func lookup(r map[string]any, urn, attr, core string) any {
	if urn != "" && !strings.EqualFold(urn, core) {
		ext, ok := get(r, urn).(map[string]any)
		if !ok {
			return nil
		}
		r = ext
	}
	return get(r, attr)
}

func get(m map[string]any, name string) any {
	if v, ok := m[name]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

// values returns the values a comparison looks at: for a multi-valued
// complex attribute without a sub-attribute, the "value" of each element.
func values(r map[string]any, p attrPath, core string) []any {
	v := lookup(r, p.urn, p.attr, core)
	sub := p.sub
	if sub == "" {
		if _, multi := v.([]any); !multi {
			return []any{v}
		}
		sub = "value"
	}
	var out []any
	for _, el := range asList(v) {
		if m, ok := el.(map[string]any); ok {
			out = append(out, get(m, sub))
		} else if p.sub == "" {
			out = append(out, el)
		}
	}
	return out
}

func compare(op string, have, want any, exact bool) bool {
	switch w := want.(type) {
	case bool:
		h, ok := have.(bool)
		if !ok {
			return op == "ne"
		}
		switch op {
		case "eq":
			return h == w
		case "ne":
			return h != w
		}
		return false
	case float64:
		h, ok := have.(float64)
		if !ok {
			return op == "ne"
		}
		switch op {
		case "eq":
			return h == w
		case "ne":
			return h != w
		case "gt":
			return h > w
		case "ge":
			return h >= w
		case "lt":
			return h < w
		case "le":
			return h <= w
		}
		return false
	case string:
		h, ok := have.(string)
		if !ok {
			return op == "ne"
		}
		if ht, err := time.Parse(time.RFC3339, h); err == nil {
			if wt, err := time.Parse(time.RFC3339, w); err == nil {
				return compareOrdered(op, ht.Compare(wt))
			}
		}
		if !exact {
			h, w = strings.ToLower(h), strings.ToLower(w)
		}
		switch op {
		case "co":
			return strings.Contains(h, w)
		case "sw":
			return strings.HasPrefix(h, w)
		case "ew":
			return strings.HasSuffix(h, w)
		}
		return compareOrdered(op, strings.Compare(h, w))
	}
	return false
}

func compareOrdered(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "co", "sw", "ew":
		return c == 0
	}
	return false
}
