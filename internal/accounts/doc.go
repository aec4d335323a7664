// Package accounts owns the rules of an account's life and of
// administration: creating, changing, disabling and deleting users;
// passwords and password links; unlocking; resetting a second factor;
// ending sessions; service provider and signing key changes; applying an
// import; and the one audit writer.
//
// Every adapter (the CLI in cmd/idp, the web pages in internal/server, and
// the console and APIs that come next) calls these functions, so that a
// rule changed here changes everywhere at once. The package takes a store,
// a clock and a mailer; it knows nothing of HTTP or flags.
package accounts
