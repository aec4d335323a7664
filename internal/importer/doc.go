// Package importer reads files of users for `idp users import` and writes
// flexidp's own export formats, so that export and import share one
// definition of each format and round-trip exactly.
//
// Formats (see Format): flexidp CSV, flexidp JSON and NDJSON (the export
// shape), Auth0 user exports and bulk-import files (JSON array or NDJSON),
// and Okta CSV exports. Parse detects the format from the content when it
// is not given.
//
// Parse validates every row completely, as a store would (users.User
// Validate, the Flex attribute rules, users.CheckHash for password hashes,
// duplicate emails within the file), and collects every problem with its
// line number rather than stopping at the first: the administrator fixes
// the whole file in one pass. It performs no I/O beyond reading the given
// io.Reader and never panics on any input.
package importer
