package attributes

// Type is the type of a Flex attribute value, named by the suffix of the
// attribute name (skills.intarray) or by the catalog.
type Type int

// The seven Flex attribute types. The zero Type is String.
const (
	String       Type = iota // a plain string, the default
	Int                      // a 64-bit decimal integer
	Boolean                  // true or false
	Array                    // an untyped array: strings on the wire, like StringArray
	StringArray              // an array of strings
	IntArray                 // an array of integers
	BooleanArray             // an array of booleans
)

var typeWords = [...]string{
	String:       "string",
	Int:          "int",
	Boolean:      "boolean",
	Array:        "array",
	StringArray:  "stringarray",
	IntArray:     "intarray",
	BooleanArray: "booleanarray",
}

// String returns the Flex suffix word of t ("int", "stringarray").
func (t Type) String() string {
	if t < 0 || int(t) >= len(typeWords) {
		return "invalid"
	}
	return typeWords[t]
}

// ParseType returns the Type named by a suffix word. Words are
// case-sensitive, as Flex only documents lower case.
func ParseType(word string) (Type, bool) {
	for i, w := range typeWords {
		if w == word {
			return Type(i), true
		}
	}
	return 0, false
}

// IsArray reports whether t is one of the four array types.
func (t Type) IsArray() bool { return t >= Array && t <= BooleanArray }

// Elem returns the type of one item: String, Int or Boolean. For a scalar
// type it returns t itself.
func (t Type) Elem() Type {
	switch t {
	case Array, StringArray:
		return String
	case IntArray:
		return Int
	case BooleanArray:
		return Boolean
	}
	return t
}

func (t Type) valid() bool { return t >= String && t <= BooleanArray }
