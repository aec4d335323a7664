// Package migrations embeds the SQL schema of each store backend. Files are
// named NNN_description.sql and applied in order, each once.
package migrations

import "embed"

// Postgres holds the PostgreSQL migrations (postgres/*.sql).
//
//go:embed postgres/*.sql
var Postgres embed.FS

// SQLite holds the SQLite migrations (sqlite/*.sql).
//
//go:embed sqlite/*.sql
var SQLite embed.FS
