// Package sqlite is the embedded store.Store backend: one SQLite database
// file, no server, no cgo (modernc.org/sqlite).
//
// The database runs in WAL mode so readers never wait for the writer. Inside
// one process, writes go through a pool of a single connection, so writers
// queue in Go instead of sleeping in SQLite's busy handler; reads use a
// separate read-only pool and run in parallel. Between processes (a server
// and a command-line tool sharing the file), every write transaction begins
// IMMEDIATE, taking the write lock up front, and waits up to busy_timeout
// for it: a transaction never has to upgrade a read lock to a write lock,
// which is what makes SQLite return SQLITE_BUSY at once.
//
// Times are stored as integer microseconds since the Unix epoch and come
// back in UTC. Lists and attribute sets are stored as JSON text.
package sqlite
