// Package attributes is the Twilio Flex attribute model of flexidp: typed
// attribute values, the catalog of attributes Flex knows, Flex roles, and
// the release policy that turns a user into the exact SAML attributes one
// service provider receives. It performs no I/O.
//
// # The Flex name[.type] convention
//
// Flex receives every SAML attribute value as a string. An attribute whose
// name ends in one of seven type suffixes is converted by Flex before it is
// stored on the worker:
//
//	name.string            string          Mary
//	skill.int              integer         1
//	sales.boolean          boolean         true
//	tags.array             string array    a,b
//	languages.stringarray  string array    en,de,fr
//	skills.intarray        integer array   1,2,3,4
//	flags.booleanarray     boolean array   true,false
//
// Arrays travel as one comma-separated value, so an array item can never
// contain a comma. A name without a suffix is a string, except for the
// attributes of the catalog (see [Catalog]): roles is a string array,
// channel.<taskchannel>.capacity an integer and
// channel.<taskchannel>.availability a boolean.
//
// A value that does not match its type (skill.int = "1.23") makes Flex
// answer 400 "invalid attribute format" and apply none of the attributes,
// so this package checks every value when it is parsed, when it is decoded
// from storage ([Set.UnmarshalJSON]) and once more when it is released
// ([Release]); [Release] never returns an invalid value.
//
// # Values
//
// A [Value] holds its type and its canonical wire form, so values compare
// with == and Parse(name, v.String()) == v for every valid v. Parse is
// lenient where that is safe (surrounding spaces around ints, booleans and
// array items; "TRUE"; "007"), String is canonical ("true", "7").
// An empty array is allowed; its wire form is "". [Release] leaves empty
// arrays out, because Flex would read "" as one empty item, which is not a
// valid int or boolean.
//
// In storage and in the API a [Set] is typed JSON:
//
//	{"department":"Sales","sales.boolean":true,"skills.intarray":[1,2,3]}
package attributes
