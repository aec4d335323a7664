package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// patchRequest is a SCIM PATCH body (RFC 7644 section 3.5.2).
type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// maxPatchOps bounds the operations of one PATCH.
const maxPatchOps = 1000

// patchPath is "attrPath[valFilter].sub" of a PATCH path.
type patchPath struct {
	attrPath
	filter expr
	// after is the sub-attribute after a value filter: emails[...].value.
	after string
}

// parsePatchPath reads a PATCH path; known refuses what the resource does
// not have.
func parsePatchPath(s string, known func(attrPath) bool) (patchPath, error) {
	var out patchPath
	head, rest, hasFilter := strings.Cut(s, "[")
	p, err := splitPath(strings.TrimSpace(head))
	if err != nil {
		return out, err
	}
	out.attrPath = p
	if hasFilter {
		end := strings.LastIndexByte(rest, ']')
		if end < 0 || p.sub != "" {
			return out, filterErrorf("%q is not a valid path", s)
		}
		if tail := rest[end+1:]; tail != "" {
			sub, ok := strings.CutPrefix(tail, ".")
			if !ok || sub == "" || strings.ContainsAny(sub, ".[]") {
				return out, filterErrorf("%q is not a valid path", s)
			}
			out.after = sub
		}
		sub := func(q attrPath) bool {
			return q.urn == "" && q.sub == "" && known(attrPath{urn: p.urn, attr: p.attr, sub: q.attr})
		}
		if out.filter, err = parseFilter(rest[:end], sub); err != nil {
			return out, err
		}
	}
	check := out.attrPath
	if out.after != "" {
		check.sub = out.after
	}
	if !known(check) {
		return out, filterErrorf("%q is not an attribute of this resource", s)
	}
	return out, nil
}

// applyPatch applies ops to doc, the resource in its JSON form. core and
// ext are the URNs of its core schema and extension; known says which
// paths exist. The caller decodes doc back into the resource and checks
// it.
func applyPatch(doc map[string]any, ops []patchOp, core, ext string, known func(attrPath) bool) error {
	if len(ops) == 0 {
		return &Error{Status: http.StatusBadRequest, Type: "invalidSyntax", Detail: "The PATCH request has no Operations."}
	}
	if len(ops) > maxPatchOps {
		return &Error{Status: http.StatusBadRequest, Type: "tooMany", Detail: fmt.Sprintf("A PATCH request may have at most %d operations.", maxPatchOps)}
	}
	for i, op := range ops {
		name := strings.ToLower(strings.TrimSpace(op.Op))
		if name != "add" && name != "replace" && name != "remove" {
			return &Error{Status: http.StatusBadRequest, Type: "invalidSyntax", Detail: fmt.Sprintf("Operation %d: %q is not add, replace or remove.", i+1, op.Op)}
		}
		var value any
		if len(op.Value) > 0 {
			if err := json.Unmarshal(op.Value, &value); err != nil {
				return &Error{Status: http.StatusBadRequest, Type: "invalidSyntax", Detail: fmt.Sprintf("Operation %d: the value is not valid JSON.", i+1)}
			}
		}
		if err := applyOp(doc, name, strings.TrimSpace(op.Path), value, core, ext, known); err != nil {
			if e, ok := err.(*Error); ok {
				e.Detail = fmt.Sprintf("Operation %d: %s", i+1, e.Detail)
				return e
			}
			return err
		}
	}
	return nil
}

func applyOp(doc map[string]any, op, path string, value any, core, ext string, known func(attrPath) bool) error {
	if path == "" {
		if op == "remove" {
			return &Error{Status: http.StatusBadRequest, Type: "noTarget", Detail: "remove needs a path."}
		}
		obj, ok := value.(map[string]any)
		if !ok {
			return &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: "without a path, the value must be an object of attributes."}
		}
		for k, v := range obj {
			if strings.EqualFold(k, ext) {
				inner, ok := v.(map[string]any)
				if !ok {
					return &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: fmt.Sprintf("%s must be an object.", ext)}
				}
				for ik, iv := range inner {
					if err := applyOp(doc, op, ext+":"+ik, iv, core, ext, known); err != nil {
						return err
					}
				}
				continue
			}
			// Okta repeats the id (and some clients the schemas and meta)
			// in the value of a replace without a path: the same id is no
			// change.
			if strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta") || (strings.EqualFold(k, "id") && v == doc["id"]) {
				continue
			}
			if err := applyOp(doc, op, k, v, core, ext, known); err != nil {
				return err
			}
		}
		return nil
	}
	p, err := parsePatchPath(path, known)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Type: "invalidPath", Detail: err.Error()}
	}
	if a := strings.ToLower(p.attr); (p.urn == "" || strings.EqualFold(p.urn, core)) && (a == "id" || a == "meta" || a == "groups") {
		return &Error{Status: http.StatusBadRequest, Type: "mutability", Detail: fmt.Sprintf("%s cannot be changed.", p.attr)}
	}
	container := doc
	if p.urn != "" && !strings.EqualFold(p.urn, core) {
		key := keyOf(doc, ext)
		m, ok := doc[key].(map[string]any)
		if !ok {
			if op == "remove" {
				return nil
			}
			m = map[string]any{}
			doc[key] = m
		}
		container = m
	}
	key := keyOf(container, p.attr)
	cur, exists := container[key]

	if p.filter != nil {
		list, _ := cur.([]any)
		matched := 0
		var kept []any
		for _, el := range list {
			m, ok := el.(map[string]any)
			if !ok || !match(p.filter, m, "") {
				kept = append(kept, el)
				continue
			}
			matched++
			switch {
			case op == "remove" && p.after == "":
				continue // dropped
			case op == "remove":
				delete(m, keyOf(m, p.after))
			case p.after != "":
				m[keyOf(m, p.after)] = value
			default:
				v, ok := value.(map[string]any)
				if !ok {
					return &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: fmt.Sprintf("%s: the value must be an object.", path)}
				}
				for k, x := range v {
					m[keyOf(m, k)] = x
				}
			}
			kept = append(kept, m)
		}
		if matched == 0 && op != "remove" {
			// Entra and Okta add an element this way ("emails[type eq
			// "work"].value" on a user with no work email): the filter's
			// equality gives the element's key.
			c, ok := p.filter.(comparison)
			if !ok || c.op != "eq" || c.path.sub != "" || c.path.urn != "" {
				return &Error{Status: http.StatusBadRequest, Type: "noTarget", Detail: fmt.Sprintf("%s matches nothing.", path)}
			}
			el := map[string]any{c.path.attr: c.value}
			if p.after != "" {
				el[p.after] = value
			} else if v, ok := value.(map[string]any); ok {
				for k, x := range v {
					el[k] = x
				}
			}
			kept = append(kept, el)
		}
		setList(container, key, kept)
		return nil
	}

	if p.sub != "" {
		switch c := cur.(type) {
		case map[string]any:
			setSub(c, op, p.sub, value)
		case []any:
			for _, el := range c {
				if m, ok := el.(map[string]any); ok {
					setSub(m, op, p.sub, value)
				}
			}
		case nil:
			if op != "remove" {
				container[key] = map[string]any{p.sub: value}
			}
		default:
			return &Error{Status: http.StatusBadRequest, Type: "invalidPath", Detail: fmt.Sprintf("%s has no sub-attributes.", p.attr)}
		}
		return nil
	}

	switch op {
	case "remove":
		if !exists {
			return nil
		}
		// A remove with a value takes those elements out of a multi-valued
		// attribute (Entra removes group members this way).
		if list, ok := cur.([]any); ok && value != nil {
			drop := asList(value)
			var kept []any
			for _, el := range list {
				if !containsValue(drop, el) {
					kept = append(kept, el)
				}
			}
			setList(container, key, kept)
			return nil
		}
		delete(container, key)
	case "add":
		switch c := cur.(type) {
		case []any:
			for _, v := range asList(value) {
				if !containsValue(c, v) {
					c = append(c, v)
				}
			}
			container[key] = c
		case map[string]any:
			v, ok := value.(map[string]any)
			if !ok {
				return &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: fmt.Sprintf("%s: the value must be an object.", path)}
			}
			for k, x := range v {
				c[keyOf(c, k)] = x
			}
		default:
			container[key] = value
		}
	case "replace":
		if c, ok := cur.(map[string]any); ok {
			if v, ok := value.(map[string]any); ok {
				for k, x := range v {
					c[keyOf(c, k)] = x
				}
				return nil
			}
		}
		container[key] = value
	}
	return nil
}

// setSub sets (or, for remove, deletes) the sub-attribute sub of m.
func setSub(m map[string]any, op, sub string, value any) {
	if op == "remove" {
		delete(m, keyOf(m, sub))
	} else {
		m[keyOf(m, sub)] = value
	}
}

// setList stores list under key, or removes key when list is empty: an
// attribute with no values is unassigned (RFC 7643 2.5).
func setList(m map[string]any, key string, list []any) {
	if len(list) == 0 {
		delete(m, key)
	} else {
		m[key] = list
	}
}

// keyOf returns the key of m that names attr case-insensitively, or attr.
func keyOf(m map[string]any, attr string) string {
	if _, ok := m[attr]; ok {
		return attr
	}
	for k := range m {
		if strings.EqualFold(k, attr) {
			return k
		}
	}
	return attr
}

// containsValue reports whether list holds v: the same "value" for
// complex elements (a member, an email), the same JSON otherwise.
func containsValue(list []any, v any) bool {
	vm, vIsMap := v.(map[string]any)
	for _, el := range list {
		if em, ok := el.(map[string]any); ok && vIsMap {
			if a, b := get(em, "value"), get(vm, "value"); a != nil && a == b {
				return true
			}
			continue
		}
		x, _ := json.Marshal(el)
		y, _ := json.Marshal(v)
		if string(x) == string(y) {
			return true
		}
	}
	return false
}
