package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

func usersCommands() map[string]command {
	return map[string]command{
		"add":          {summary: "add a user (password from stdin or a prompt)", run: runUsersAdd},
		"list":         {summary: "list users", run: runUsersList},
		"show":         {summary: "show one user", run: runUsersShow},
		"update":       {summary: "change a user's profile fields", run: runUsersUpdate},
		"set-password": {summary: "set a user's password (from stdin or a prompt)", run: runUsersSetPassword},
		"disable":      {summary: "disable a user and end their sessions", run: runUsersDisable},
		"enable":       {summary: "enable a user", run: runUsersEnable},
		"delete":       {summary: "delete a user", run: runUsersDelete},
		"set-attr":     {summary: "set a custom typed Flex attribute (name[.type]=value)", run: runUsersSetAttr},
		"unset-attr":   {summary: "remove a custom attribute", run: runUsersUnsetAttr},
		"preview":      {summary: "show what a service provider would receive for a user", run: runUsersPreview},
		"unlock":       {summary: "end the sign-in lock of an account (after failed sign-ins)", run: runUsersUnlock},
		"reset-mfa":    {summary: "remove a user's two-step verification (lost phone)", run: runUsersResetMFA},
		"invite":       {summary: "print (and email) a single-use link where a new user sets a password", run: runUsersInvite},
		"reset-link":   {summary: "print (and email) a single-use password reset link", run: runUsersResetLink},
		"import":       {summary: "import users from a CSV, JSON, Auth0 or Okta file", run: runUsersImport},
		"export":       {summary: "export users as NDJSON or CSV", run: runUsersExport},
	}
}

// newUserID returns a random UUID (version 4): the immutable user ID.
func newUserID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// readPassword reads a new password: prompted twice on a terminal, else
// the first line of stdin. Passwords are never taken from flags, which end
// up in shell history and process listings.
func readPassword(env *environment, prompt string) (string, error) {
	if f, ok := env.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(env.stderr, prompt)
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(env.stderr, "Repeat: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", err
		}
		if string(p1) != string(p2) {
			return "", errors.New("the passwords do not match")
		}
		return checkPassword(env, string(p1))
	}
	line, err := bufio.NewReader(env.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	return checkPassword(env, strings.TrimRight(line, "\r\n"))
}

// checkPassword applies the password policy (passwordPolicy); the email is
// checked once the user is known.
func checkPassword(env *environment, p string) (string, error) {
	if err := checkPasswordFor(env, p, ""); err != nil {
		return "", err
	}
	return p, nil
}

// checkPasswordFor applies the password policy to p as the password of
// email, with an error that reads as a sentence.
func checkPasswordFor(env *environment, p, email string) error {
	policy, err := passwordPolicy(env)
	if err != nil {
		return err
	}
	var ve *users.ValidationError
	if err := policy.Check(p, email); errors.As(err, &ve) {
		return errors.New("the password " + ve.Reason)
	} else if err != nil {
		return err
	}
	return nil
}

// userFields are the profile flags shared by add and update.
type userFields struct {
	fullName, givenName, familyName, imageURL, roles, team, program string
}

func (f *userFields) register(fs interface {
	StringVar(*string, string, string, string)
}) {
	fs.StringVar(&f.fullName, "name", "", "full name shown in Flex")
	fs.StringVar(&f.givenName, "given-name", "", "given name")
	fs.StringVar(&f.familyName, "family-name", "", "family name")
	fs.StringVar(&f.imageURL, "image-url", "", "avatar URL (https)")
	fs.StringVar(&f.roles, "roles", "", "comma-separated Flex roles: admin, supervisor, agent, wfo.*")
	fs.StringVar(&f.team, "team", "", "team (exact, case-sensitive Flex team name)")
	fs.StringVar(&f.program, "program", "", "program")
}

// apply copies the flags that were set (visited) onto u.
func (f *userFields) apply(u *users.User, set map[string]bool) error {
	if set["name"] {
		u.FullName = f.fullName
	}
	if set["given-name"] {
		u.GivenName = f.givenName
	}
	if set["family-name"] {
		u.FamilyName = f.familyName
	}
	if set["image-url"] {
		u.ImageURL = f.imageURL
	}
	if set["team"] {
		u.Team = f.team
	}
	if set["program"] {
		u.Program = f.program
	}
	if set["roles"] {
		roles, err := attributes.ParseRoles(f.roles)
		if err != nil {
			return err
		}
		u.Roles = roles
	}
	return nil
}

func visited(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}

func runUsersAdd(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp users add", "--email EMAIL [flags]", "Add a user. The password is read from stdin (first line) or prompted for;\nit is never a flag. --no-password creates a user who cannot sign in yet.")
	dbURL := databaseFlag(env, fs)
	email := fs.String("email", "", "email address (unique, case-insensitive); required")
	noPassword := fs.Bool("no-password", false, "do not set a password")
	var f userFields
	f.register(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	u := users.User{ID: newUserID(), Email: users.NormalizeEmail(*email)}
	if err := f.apply(&u, visited(fs)); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	st, err := openAdminStore(ctx, env, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if !*noPassword {
		pw, err := readPassword(env, "Password for "+u.Email+": ")
		if err != nil {
			return err
		}
		if err := checkPasswordFor(env, pw, u.Email); err != nil {
			return err
		}
		if u.PasswordHash, err = users.NewHasher(users.DefaultParams, 1).Hash(ctx, pw); err != nil {
			return err
		}
	}
	if err := st.CreateUser(ctx, u); errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("a user with email %s already exists", u.Email)
	} else if err != nil {
		return err
	}
	auditAdmin(ctx, env, st, adminChange{action: "user.add", user: &u, after: userView(u)})
	fmt.Fprintf(env.stdout, "added user %s (%s)\n", u.Email, u.ID)
	if len(u.Roles) == 0 {
		fmt.Fprintln(env.stderr, "warning: the user has no Flex role and cannot sign in to Flex until given one (idp users update --roles agent)")
	}
	return nil
}

// findUser looks a user up by email or ID.
func findUser(ctx context.Context, st store.Store, ref string) (users.User, error) {
	u, err := st.GetUserByEmail(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		u, err = st.GetUser(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return users.User{}, fmt.Errorf("no user with email or ID %q", ref)
	}
	return u, err
}

// userCommand is the shape of commands that act on one user given by
// --email (or ID) and need only the store.
func userCommand(env *environment, name, usage, desc string, args []string, extra func(fs *flag.FlagSet)) (*flag.FlagSet, *string, *string, error) {
	fs := newFlags(env, name, usage, desc)
	dbURL := databaseFlag(env, fs)
	email := fs.String("email", "", "the user's email address or ID; required")
	if extra != nil {
		extra(fs)
	}
	if err := parse(fs, args, 0); err != nil {
		return nil, nil, nil, err
	}
	if *email == "" {
		fs.Usage()
		return nil, nil, nil, usageError{name + ": --email is required"}
	}
	return fs, dbURL, email, nil
}

func runUsersList(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp users list", "[flags]", "List users.")
	dbURL := databaseFlag(env, fs)
	query := fs.String("query", "", "only users whose email or name contains this")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	st, err := openAdminStore(ctx, env, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := st.ListUsers(ctx, store.UserFilter{Query: *query})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tNAME\tROLES\tTEAM\tSTATUS")
	for _, u := range list {
		status := "active"
		if u.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Email, u.DisplayName(), strings.Join(u.Roles, ","), u.Team, status)
	}
	return tw.Flush()
}

func runUsersShow(ctx context.Context, env *environment, args []string) error {
	return withUser(ctx, env, "idp users show", "--email EMAIL", "Show a user.", args, nil, func(st migrator, u users.User) error {
		assigned, err := st.Assignments(ctx, u.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
		row("id", u.ID)
		row("email", u.Email)
		row("full_name", u.DisplayName())
		row("given_name", u.GivenName)
		row("family_name", u.FamilyName)
		row("image_url", u.ImageURL)
		row("roles", strings.Join(u.Roles, ","))
		row("team", u.Team)
		row("program", u.Program)
		row("disabled", fmt.Sprint(u.Disabled))
		row("password", passwordKind(u.PasswordHash))
		row("two_step", twoStepStatus(ctx, st, u))
		row("sign_in_lock", lockStatus(ctx, st, u))
		row("assigned_sps", strings.Join(assigned, ","))
		row("created", u.CreatedAt.Format("2006-01-02 15:04:05Z"))
		row("updated", u.UpdatedAt.Format("2006-01-02 15:04:05Z"))
		for _, n := range u.Attributes.Names() {
			row("attr "+n, u.Attributes[n].String())
		}
		return tw.Flush()
	})
}

// passwordKind describes a hash without revealing it.
func passwordKind(h string) string {
	switch {
	case h == "":
		return "not set"
	case strings.HasPrefix(h, "$argon2id$"):
		return "argon2id"
	case strings.HasPrefix(h, "$2"):
		return "bcrypt (imported; upgraded to argon2id at next sign-in)"
	default:
		return "imported (upgraded to argon2id at next sign-in)"
	}
}

func runUsersUpdate(ctx context.Context, env *environment, args []string) error {
	var f userFields
	var newEmail string
	fs, dbURL, email, err := userCommand(env, "idp users update", "--email EMAIL [flags]", "Change profile fields; only the flags given are changed.", args, func(fs *flag.FlagSet) {
		f.register(fs)
		fs.StringVar(&newEmail, "new-email", "", "change the email address")
	})
	if err != nil {
		return err
	}
	set := visited(fs)
	return updateUser(ctx, env, *dbURL, *email, func(u *users.User) error {
		if set["new-email"] {
			u.Email = users.NormalizeEmail(newEmail)
		}
		return f.apply(u, set)
	}, "updated")
}

// updateUser applies change atomically and validates the result.
func updateUser(ctx context.Context, env *environment, dbURL, ref string, change func(*users.User) error, verb string) error {
	st, u, err := openUser(ctx, env, dbURL, ref)
	if err != nil {
		return err
	}
	defer st.Close()
	before := u
	u, err = st.UpdateUser(ctx, u.ID, func(cur users.User) (users.User, error) {
		if err := change(&cur); err != nil {
			return cur, err
		}
		return cur, cur.Validate()
	})
	if errors.Is(err, store.ErrConflict) {
		return errors.New("another user already has that email address")
	} else if err != nil {
		return err
	}
	auditAdmin(ctx, env, st, adminChange{action: userAction(verb), user: &u, before: userView(before), after: userView(u)})
	fmt.Fprintf(env.stdout, "%s user %s\n", verb, u.Email)
	return nil
}

func runUsersSetPassword(ctx context.Context, env *environment, args []string) error {
	_, dbURL, email, err := userCommand(env, "idp users set-password", "--email EMAIL", "Set a user's password, read from stdin or prompted for. Ends the user's sessions.", args, nil)
	if err != nil {
		return err
	}
	pw, err := readPassword(env, "New password: ")
	if err != nil {
		return err
	}
	hash, err := users.NewHasher(users.DefaultParams, 1).Hash(ctx, pw)
	if err != nil {
		return err
	}
	return updateUserAndEndSessions(ctx, env, *dbURL, *email, func(u *users.User) error {
		if err := checkPasswordFor(env, pw, u.Email); err != nil {
			return err
		}
		u.SetPasswordHash(hash)
		return nil
	}, "set the password of")
}

func runUsersDisable(ctx context.Context, env *environment, args []string) error {
	_, dbURL, email, err := userCommand(env, "idp users disable", "--email EMAIL", "Disable a user: they cannot sign in, and their sessions end.", args, nil)
	if err != nil {
		return err
	}
	return updateUserAndEndSessions(ctx, env, *dbURL, *email, func(u *users.User) error { u.Disable(); return nil }, "disabled")
}

func runUsersEnable(ctx context.Context, env *environment, args []string) error {
	_, dbURL, email, err := userCommand(env, "idp users enable", "--email EMAIL", "Enable a disabled user.", args, nil)
	if err != nil {
		return err
	}
	return updateUser(ctx, env, *dbURL, *email, func(u *users.User) error { u.Disabled = false; return nil }, "enabled")
}

// updateUserAndEndSessions is updateUser followed by revoking every
// session of the user (password change, disable).
func updateUserAndEndSessions(ctx context.Context, env *environment, dbURL, ref string, change func(*users.User) error, verb string) error {
	if err := updateUser(ctx, env, dbURL, ref, change, verb); err != nil {
		return err
	}
	st, u, err := openUser(ctx, env, dbURL, ref)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.DeleteUserSessions(ctx, u.ID)
	if err != nil {
		return err
	}
	if n > 0 {
		auditAdmin(ctx, env, st, adminChange{action: "sessions.revoke", user: &u, reason: fmt.Sprintf("all sessions (%d), %s", n, verb)})
		fmt.Fprintf(env.stdout, "ended %d session(s)\n", n)
	}
	return nil
}

func runUsersDelete(ctx context.Context, env *environment, args []string) error {
	return withUser(ctx, env, "idp users delete", "--email EMAIL", "Delete a user, their sessions and assignments.", args, nil, func(st migrator, u users.User) error {
		if err := st.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		auditAdmin(ctx, env, st, adminChange{action: "user.delete", user: &u, before: userView(u)})
		fmt.Fprintf(env.stdout, "deleted user %s\n", u.Email)
		return nil
	})
}

func runUsersSetAttr(ctx context.Context, env *environment, args []string) error {
	fs, dbURL, email, err := userCommand(env, "idp users set-attr", "--email EMAIL NAME=VALUE...", "Set custom Flex attributes, e.g. skills.intarray=1,2,3 channel.chat.capacity=3 department=Sales.\nEach value is checked against its type; nothing is written if one is wrong.", argsBeforePositional(args), nil)
	if err != nil {
		return err
	}
	_ = fs
	pairs := positional(args)
	if len(pairs) == 0 {
		return usageError{"idp users set-attr: give at least one NAME=VALUE"}
	}
	values := attributes.Set{}
	for _, p := range pairs {
		name, raw, ok := strings.Cut(p, "=")
		if !ok {
			return usageError{fmt.Sprintf("%q is not NAME=VALUE", p)}
		}
		v, err := attributes.Parse(name, raw)
		if err != nil {
			return err
		}
		values[name] = v
	}
	if err := values.Validate(); err != nil {
		return err
	}
	return updateUser(ctx, env, *dbURL, *email, func(u *users.User) error {
		if u.Attributes == nil {
			u.Attributes = attributes.Set{}
		}
		for n, v := range values {
			u.Attributes[n] = v
		}
		return nil
	}, "set attributes of")
}

func runUsersUnsetAttr(ctx context.Context, env *environment, args []string) error {
	_, dbURL, email, err := userCommand(env, "idp users unset-attr", "--email EMAIL NAME...", "Remove custom attributes.", argsBeforePositional(args), nil)
	if err != nil {
		return err
	}
	names := positional(args)
	if len(names) == 0 {
		return usageError{"idp users unset-attr: give at least one attribute name"}
	}
	return updateUser(ctx, env, *dbURL, *email, func(u *users.User) error {
		for _, n := range names {
			if _, ok := u.Attributes[n]; !ok {
				return fmt.Errorf("the user has no attribute %q", n)
			}
			delete(u.Attributes, n)
		}
		return nil
	}, "removed attributes of")
}

// argsBeforePositional and positional split "--flag v ... NAME=VALUE..."
// so flags may come first and free arguments after.
func argsBeforePositional(args []string) []string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return args[:i]
		}
		if !strings.Contains(a, "=") && i+1 < len(args) && a != "--help" && a != "-h" {
			i++ // the flag's value
		}
	}
	return args
}

func positional(args []string) []string { return args[len(argsBeforePositional(args)):] }
