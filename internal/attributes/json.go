package attributes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// MarshalJSON encodes v as typed JSON: a String as a JSON string, an Int as
// a number, a Boolean as true or false, an array as a JSON array of typed
// items ([] when empty). An invalid Value is refused.
func (v Value) MarshalJSON() ([]byte, error) {
	if canon, reason := parseWire(v.Type, v.raw); reason != "" || canon != v.raw {
		if reason == "" {
			reason = "not in canonical form"
		}
		return nil, &Error{Want: v.Type.String(), Value: v.raw, Reason: reason}
	}
	switch {
	case v.Type == Int || v.Type == Boolean:
		return []byte(v.raw), nil
	case v.Type == IntArray || v.Type == BooleanArray:
		return []byte("[" + v.raw + "]"), nil
	case v.Type.IsArray():
		items := v.Items()
		if items == nil {
			items = []string{}
		}
		return json.Marshal(items)
	}
	return json.Marshal(v.raw)
}

// UnmarshalJSON decodes typed JSON without an attribute name, so the type
// is inferred from the JSON: string, integer number, boolean, or an array
// of one of these (StringArray, IntArray, BooleanArray; [] is Array).
// Decode by name with ParseJSON or through a Set, which checks the type
// the name expects.
func (v *Value) UnmarshalJSON(data []byte) error {
	x, err := decodeJSON(data)
	if err != nil {
		return &Error{Value: string(data), Reason: "invalid JSON: " + err.Error()}
	}
	t, ok := inferType(x)
	if !ok {
		return &Error{Value: string(data), Reason: "JSON " + jsonKind(x) + " is not an attribute value"}
	}
	w, err := fromJSON("", rule{typ: t}, x, data)
	if err != nil {
		return err
	}
	*v = w
	return nil
}

// ParseJSON decodes the typed JSON value of the attribute name: the JSON
// must have the kind the name expects (skill.int takes 3, not "3") and the
// value must pass the same checks as Parse. Array string items are trimmed
// of surrounding spaces, as in Parse.
func ParseJSON(name string, data []byte) (Value, error) {
	r, err := expect(name)
	if err != nil {
		return Value{}, err
	}
	x, err := decodeJSON(data)
	if err != nil {
		return Value{}, &Error{Name: name, Want: r.wantText(), Value: string(data), Reason: "invalid JSON: " + err.Error()}
	}
	return fromJSON(name, r, x, data)
}

func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the value")
	}
	return x, nil
}

// fromJSON builds a value of rule r from decoded JSON x (data is the JSON
// text, quoted in errors).
func fromJSON(name string, r rule, x any, data []byte) (Value, error) {
	fail := func(reason string) (Value, error) {
		return Value{}, &Error{Name: name, Want: r.wantText(), Value: string(data), Reason: reason}
	}
	var canon string
	if r.typ.IsArray() {
		arr, ok := x.([]any)
		if !ok {
			return fail("JSON " + jsonKind(x) + ", want a JSON array")
		}
		items := make([]string, len(arr))
		for i, el := range arr {
			c, reason := jsonItem(r.typ.Elem(), el, true)
			if reason != "" {
				return fail(fmt.Sprintf("item %d: %s", i+1, reason))
			}
			items[i] = c
		}
		canon = strings.Join(items, ",")
	} else {
		c, reason := jsonItem(r.typ, x, false)
		if reason != "" {
			return fail(reason)
		}
		canon = c
	}
	// Checks the length, and the items once more as the wire would carry them.
	if c, reason := parseWire(r.typ, canon); reason != "" || c != canon {
		if reason == "" {
			reason = "not in canonical form"
		}
		return fail(reason)
	}
	return r.finish(name, string(data), Value{Type: r.typ, raw: canon})
}

// jsonItem returns the wire form of one decoded JSON scalar of type elem;
// inArray applies the rules of array items (trimmed, not empty, no comma).
func jsonItem(elem Type, x any, inArray bool) (canon, reason string) {
	switch elem {
	case Int:
		n, ok := x.(json.Number)
		if !ok {
			return "", "JSON " + jsonKind(x) + ", want a JSON number"
		}
		return parseItem(Int, string(n), true)
	case Boolean:
		b, ok := x.(bool)
		if !ok {
			return "", "JSON " + jsonKind(x) + ", want true or false"
		}
		if b {
			return "true", ""
		}
		return "false", ""
	}
	s, ok := x.(string)
	if !ok {
		return "", "JSON " + jsonKind(x) + ", want a JSON string"
	}
	return parseItem(String, s, inArray)
}

func inferType(x any) (Type, bool) {
	scalar := func(x any) (Type, bool) {
		switch x.(type) {
		case string:
			return String, true
		case json.Number:
			return Int, true
		case bool:
			return Boolean, true
		}
		return 0, false
	}
	arr, ok := x.([]any)
	if !ok {
		return scalar(x)
	}
	if len(arr) == 0 {
		return Array, true
	}
	t, ok := scalar(arr[0])
	if !ok {
		return 0, false
	}
	for _, el := range arr[1:] {
		if u, ok := scalar(el); !ok || u != t {
			return 0, false
		}
	}
	return [...]Type{String: StringArray, Int: IntArray, Boolean: BooleanArray}[t], true
}

func jsonKind(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	}
	return "object"
}
