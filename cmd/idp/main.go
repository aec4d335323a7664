// Command idp is flexidp: a SAML 2.0 identity provider for Twilio Flex.
//
// main.go dispatches subcommands; each command group has its own file.
// This package is the only place where configuration, store, services and
// server are wired together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/flexidp/flexidp/internal/users"
)

// command is one `idp` subcommand (or group of subcommands).
type command struct {
	summary string
	run     func(ctx context.Context, env *environment, args []string) error
	sub     map[string]command
}

func commands() map[string]command {
	return map[string]command{
		"serve":       {summary: "run the IdP (production: PostgreSQL or SQLite from IDP_DATABASE_URL)", run: runServe},
		"dev":         {summary: "run a development IdP on an embedded store with demo users", run: runDev},
		"migrate":     {summary: "apply database migrations and exit", run: runMigrate},
		"version":     {summary: "print the version", run: runVersion},
		"healthcheck": {summary: "exit 0 if the local server is ready (for container health checks)", run: runHealthcheck},
		"users":       {summary: "manage users", sub: usersCommands()},
		"groups":      {summary: "manage groups of users that share Flex roles, a team and attributes", sub: groupsCommands()},
		"sp":          {summary: "manage service providers (Flex accounts)", sub: spCommands()},
		"flex":        {summary: "Twilio Flex helpers", sub: flexCommands()},
		"keys":        {summary: "manage signing keys", sub: keysCommands()},
		"sessions":    {summary: "list and revoke users' IdP sessions", sub: sessionsCommands()},
		"audit":       {summary: "read the audit log", sub: auditCommands()},
		"directories": {summary: "connect LDAP / Active Directory sources people sign in through", sub: directoriesCommands()},
		"tokens":      {summary: "manage API tokens for SCIM and the admin API", sub: tokensCommands()},
	}
}

// environment is what commands read and write besides their arguments;
// tests replace it.
type environment struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// actor is who makes admin changes, for the audit log (--actor).
	actor string
	// logFormat is how admin changes are logged on stderr (--log-format).
	logFormat string
}

func main() {
	env := &environment{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, env, os.Args[1:]))
}

// run executes args and returns the exit status: 0 ok, 1 failure, 2 usage.
func run(ctx context.Context, env *environment, args []string) int {
	err := dispatch(ctx, env, "idp", commands(), args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(env.stderr, "idp: %v\n", err)
		return 2
	default:
		fmt.Fprintf(env.stderr, "idp: %s\n", errorText(err))
		return 1
	}
}

// errorText is how a failure reads: an account service error
// (*accounts.Error) is a sentence and is printed as is; a refused password
// completes "the password …", as on the password page.
func errorText(err error) string {
	var ve *users.ValidationError
	if errors.As(err, &ve) && ve.Field == "password" {
		return "the password " + ve.Reason
	}
	return err.Error()
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func dispatch(ctx context.Context, env *environment, prefix string, cmds map[string]command, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(env.stdout, prefix, cmds)
		if len(args) == 0 {
			return usageError{"a command is required"}
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		printUsage(env.stderr, prefix, cmds)
		return usageError{fmt.Sprintf("unknown command %q", strings.TrimSpace(prefix+" "+args[0]))}
	}
	if c.sub != nil {
		return dispatch(ctx, env, prefix+" "+args[0], c.sub, args[1:])
	}
	return c.run(ctx, env, args[1:])
}

func printUsage(w io.Writer, prefix string, cmds map[string]command) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\nCommands:\n", prefix)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", prefix)
}

// readOnly are the admin commands that change nothing, so write no audit
// record and take no --actor.
var readOnly = map[string]bool{
	"idp users list": true, "idp users show": true, "idp users preview": true, "idp users export": true,
	"idp sp list": true, "idp sp show": true, "idp groups list": true, "idp groups show": true, "idp sessions list": true, "idp keys list": true,
	"idp tokens list": true,
}

// changesAccounts reports whether the command named name is an admin
// command whose changes go to the audit log (and so takes --actor).
func changesAccounts(name string) bool {
	if readOnly[name] {
		return false
	}
	for _, group := range []string{"idp users ", "idp groups ", "idp sp ", "idp keys ", "idp sessions ", "idp tokens "} {
		if strings.HasPrefix(name, group) {
			return true
		}
	}
	return false
}

// newFlags returns a FlagSet that prints its usage with a description.
func newFlags(env *environment, name, usage, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	if changesAccounts(name) {
		fs.StringVar(&env.actor, "actor", env.actor, "who makes this change, recorded in the audit log (default $USER, else the OS user)")
		fs.StringVar(&env.logFormat, "log-format", env.logFormat, "also log the audit record on stderr: json, text, or auto (only when stderr is not a terminal) (IDP_LOG_FORMAT)")
	}
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: %s %s\n\n%s\n\nFlags:\n", name, usage, description)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and refuses stray positional arguments beyond want.
func parse(fs *flag.FlagSet, args []string, want int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() != want {
		fs.Usage()
		return usageError{fmt.Sprintf("%s: expected %d argument(s), got %d", fs.Name(), want, fs.NArg())}
	}
	return nil
}
