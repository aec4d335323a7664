package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/importer"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

func runUsersImport(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp users import", "FILE [flags]", `Import users from FILE ("-" for stdin): flexidp CSV, JSON or NDJSON (what
idp users export writes), an Auth0 user export or bulk-import file, or an
Okta CSV export. The format is detected from the content unless --format
is given.

Every row is checked before anything is written. With any bad row, every
problem is listed with its line number and nothing is written, unless
--skip-invalid. Users are matched by email, case-insensitively: existing
users keep their ID and, when the file has no hash for them, their
password; an import never enables a disabled user. Importing the same file
again changes nothing. Imported bcrypt and argon2 hashes let users sign in
with their old password; it is re-hashed with argon2id at that sign-in.`)
	dbURL := databaseFlag(env, fs)
	formatName := fs.String("format", "", "csv, json, ndjson, auth0 or okta (default: detected from the content)")
	dryRun := fs.Bool("dry-run", false, "check the file and report what would change; write nothing")
	skipInvalid := fs.Bool("skip-invalid", false, "import the valid rows and report the others")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageError{"idp users import: give exactly one FILE"}
	}
	format, err := importer.ParseFormat(*formatName)
	if err != nil {
		return usageError{err.Error()}
	}

	svc, st, err := openService(ctx, env, *dbURL, false)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := checkUsersFile(ctx, env, svc, pos[0], format, !*dryRun)
	if err != nil {
		return err
	}
	detected := ""
	if format == "" {
		detected = ", detected"
	}
	if err := reportProblems(env, pos[0], detected, c, *skipInvalid); err != nil {
		return err
	}
	warnNoRole(env, c)
	if *dryRun {
		fmt.Fprintf(env.stdout, "dry run: %d would be created, %d updated, %d unchanged; nothing was written\n", c.Plan.Created, c.Plan.Updated, c.Plan.Unchanged)
		return nil
	}
	if c.Plan.Created+c.Plan.Updated == 0 {
		// No progress bar for a write that writes nothing.
		fmt.Fprintf(env.stdout, "nothing to change: %s already up to date\n", allUsers(c.Plan.Unchanged))
		_, err := svc.ApplyCheckedImport(ctx, env.admin(), c, nil)
		printMemberships(env, c)
		return err
	}
	p := newProgressMeter(env.stderr, "writing")
	r, err := svc.ApplyCheckedImport(ctx, env.admin(), c, p.report)
	p.done()
	if r.Created+r.Updated > 0 {
		fmt.Fprintf(env.stdout, "imported %s: %d created, %d updated, %d unchanged\n", count(r.Total(), "user", "users"), r.Created, r.Updated, r.Unchanged)
	}
	if err != nil {
		return err
	}
	printMemberships(env, c)
	return nil
}

// printMemberships names the groups an import filled.
func printMemberships(env *environment, c *accounts.ImportCheck) {
	for _, m := range c.Memberships {
		fmt.Fprintf(env.stdout, "group %s: %s listed\n", m.Group, count(len(m.Emails), "member", "members"))
	}
}

// checkUsersFile reads the file name ("-" for stdin) with the service's
// one check of a users file (accounts.CheckImport), keeping the valid
// users when keep; a file whose format cannot be told is a usage error.
func checkUsersFile(ctx context.Context, env *environment, svc *accounts.Service, name string, format importer.Format, keep bool) (*accounts.ImportCheck, error) {
	var in io.Reader = env.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	c, err := svc.CheckImport(ctx, in, format, keep)
	if errors.Is(err, importer.ErrFormat) {
		return nil, usageError{fmt.Sprintf("%s: %v", name, errors.Unwrap(err))}
	}
	return c, err
}

// reportProblems prints what was read and every problem; with problems
// and without --skip-invalid it is the error that stops the import.
func reportProblems(env *environment, name, detected string, s *accounts.ImportCheck, skipInvalid bool) error {
	fmt.Fprintf(env.stderr, "read %s from %s (format %s%s)\n", count(s.Rows, "user", "users"), name, s.Format, detected)
	for _, p := range s.Problems {
		fmt.Fprintln(env.stderr, p)
	}
	if len(s.Problems) == 0 {
		return nil
	}
	bad := fmt.Sprintf("%d of %s %s problems (listed above)", s.BadRows(), count(s.Rows, "row", "rows"), plural(s.BadRows(), "has", "have"))
	switch {
	case s.Valid == 0:
		return fmt.Errorf("%s and none is valid; nothing was imported: fix them", bad)
	case !skipInvalid:
		return fmt.Errorf("%s; nothing was imported: fix them, or use --skip-invalid to import the %s",
			bad, count(s.Valid, "valid row", "valid rows"))
	}
	fmt.Fprintf(env.stderr, "skipping %s (listed above)\n", count(s.BadRows(), "invalid row", "invalid rows"))
	return nil
}

// warnNoRole names the users who will be refused by Flex until given a
// role: their count and the first lines.
func warnNoRole(env *environment, c *accounts.ImportCheck) {
	if c.NoRole == 0 {
		return
	}
	var shown []string
	for _, l := range c.NoRoleLines {
		shown = append(shown, fmt.Sprint(l))
	}
	if c.NoRole > len(shown) {
		shown = append(shown, "…")
	}
	fmt.Fprintf(env.stderr, "warning: %s no Flex role and cannot sign in to Flex until given one (%s %s)\n",
		count(c.NoRole, "user has", "users have"), plural(c.NoRole, "line", "lines"), strings.Join(shown, ", "))
}

// plural is one for 1 and many otherwise.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// count writes n and its noun: "1 user", "2 users", "0 users".
func count(n int, one, many string) string { return fmt.Sprintf("%d %s", n, plural(n, one, many)) }

// allUsers reads "the 1 user is", "all 3 users are".
func allUsers(n int) string { return plural(n, "the 1 user is", fmt.Sprintf("all %d users are", n)) }

// parseInterspersed parses flags that may come before or after the
// positional arguments (idp users import FILE --dry-run), and returns the
// positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// progressMeter shows how far a long write is: a bar redrawn in place on a
// terminal, otherwise a line every tenth of the way (logs, CI).
type progressMeter struct {
	w     io.Writer
	label string
	tty   bool
	last  time.Time
	step  int // the last tenth printed, when not on a terminal
	drawn bool
}

func newProgressMeter(w io.Writer, label string) *progressMeter {
	f, ok := w.(*os.File)
	return &progressMeter{w: w, label: label, tty: ok && term.IsTerminal(int(f.Fd())), step: -1}
}

func (p *progressMeter) report(done, total int) {
	if total <= 0 {
		return
	}
	pct := done * 100 / total
	if !p.tty {
		if s := pct / 10; s > p.step {
			p.step = s
			fmt.Fprintf(p.w, "%s: %d of %s (%d%%)\n", p.label, done, count(total, "user", "users"), pct)
		}
		return
	}
	if now := time.Now(); done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	} else {
		p.last = now
	}
	const width = 30
	n := done * width / total
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %d/%d", p.label, strings.Repeat("=", n), strings.Repeat(" ", width-n), pct, done, total)
	p.drawn = true
}

// done ends the bar's line.
func (p *progressMeter) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func runUsersExport(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp users export", "[--format ndjson|csv] [--with-password-hashes] [-o FILE]", `Write every user to stdout or FILE, in a form idp users import reads back
to the same users (IDs included). Password hashes are left out unless
--with-password-hashes: a file with them must be kept as secret as the
database. FILE is created with mode 0600.`)
	dbURL := databaseFlag(env, fs)
	formatName := fs.String("format", "ndjson", "ndjson or csv")
	withHashes := fs.Bool("with-password-hashes", false, "include password hashes")
	out := fs.String("o", "", "write to FILE instead of stdout")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	write := importer.WriteNDJSON
	switch importer.Format(*formatName) {
	case importer.NDJSON:
	case importer.CSV:
		write = importer.WriteCSV
	default:
		return usageError{fmt.Sprintf("idp users export: --format %q: use ndjson or csv", *formatName)}
	}
	var list []users.User
	var groups map[string][]string
	err := withService(ctx, env, *dbURL, func(svc *accounts.Service) (err error) {
		if list, err = svc.ListUsers(ctx, store.UserFilter{}); err != nil {
			return err
		}
		groups, err = svc.Memberships(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if *out == "" {
		return write(env.stdout, list, *withHashes, importer.WithGroups(groups))
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := write(f, list, *withHashes, importer.WithGroups(groups)); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	note := ""
	if *withHashes {
		note = " (with password hashes: keep the file secret)"
	}
	fmt.Fprintf(env.stderr, "exported %d users to %s%s\n", len(list), *out, note)
	return nil
}
