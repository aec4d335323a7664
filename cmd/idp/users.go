package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/flexidp/flexidp/internal/accounts"
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
		"reset-mfa":    {summary: "remove a user's two-step verification and passkeys (lost phone or key)", run: runUsersResetMFA},
		"invite":       {summary: "print (and email) a single-use link where a new user sets a password", run: runUsersInvite},
		"reset-link":   {summary: "print (and email) a single-use password reset link", run: runUsersResetLink},
		"import":       {summary: "import users from a CSV, JSON, Auth0 or Okta file", run: runUsersImport},
		"export":       {summary: "export users as NDJSON or CSV", run: runUsersExport},
		"grant":        {summary: "give or take a user's admin console role (owner, manager, viewer, none)", run: runUsersGrant},
	}
}

// readPassword reads a new password for email: prompted twice on a
// terminal, else the first line of stdin. Passwords are never taken from
// flags, which end up in shell history and process listings. The service's
// policy is applied at once, so a refused password is said before anything
// else happens; the service applies it again when it stores the password.
func readPassword(env *environment, svc *accounts.Service, prompt, email string) (string, error) {
	var pw string
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
		pw = string(p1)
	} else {
		line, err := bufio.NewReader(env.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	return pw, svc.PasswordPolicy().Check(pw, email)
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
	n := accounts.NewUser{User: users.User{Email: users.NormalizeEmail(*email)}, NoPassword: *noPassword}
	if err := f.apply(&n.User, visited(fs)); err != nil {
		return err
	}
	// A bad profile is said before the password is asked for.
	if err := n.User.Validate(); err != nil {
		return err
	}
	svc, st, err := openService(ctx, env, *dbURL, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if !n.NoPassword {
		if n.Password, err = readPassword(env, svc, "Password for "+n.User.Email+": ", n.User.Email); err != nil {
			return err
		}
	}
	u, err := svc.CreateUser(ctx, env.admin(), n)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "added user %s (%s)\n", u.Email, u.ID)
	if len(u.Roles) == 0 {
		fmt.Fprintln(env.stderr, "warning: the user has no Flex role and cannot sign in to Flex until given one (idp users update --roles agent)")
	}
	return nil
}

// userCommand parses the flags of a command that acts on one user given by
// --email (or ID), with the command's own flags registered by extra.
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
	role := fs.String("role", "", "only users with exactly this Flex role")
	team := fs.String("team", "", "only users of exactly this team")
	limit := fs.Int("limit", 0, fmt.Sprintf("list one page of this many (1-%d) and print how to get the next; 0 lists all", accounts.MaxUserPage))
	after := fs.String("after", "", "the page after this cursor (printed by the previous page)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *limit < 0 || *limit > accounts.MaxUserPage {
		fs.Usage()
		return usageError{fmt.Sprintf("idp users list: --limit must be between 1 and %d", accounts.MaxUserPage)}
	}
	svc, st, err := openService(ctx, env, *dbURL, false)
	if err != nil {
		return err
	}
	defer st.Close()
	var list []users.User
	next := ""
	if *limit == 0 && *after == "" {
		list, err = svc.ListUsers(ctx, store.UserFilter{Query: *query, Role: *role, Team: *team})
	} else {
		var page accounts.UserPage
		page, err = svc.SearchUsers(ctx, accounts.UserQuery{Query: *query, Role: *role, Team: *team, After: *after, Limit: *limit})
		list, next = page.Users, page.Next
	}
	if err != nil {
		return err
	}
	if next != "" {
		defer fmt.Fprintf(env.stderr, "next page: --after %s\n", next)
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
	return withUser(ctx, env, userCmd{name: "idp users show", usage: "--email EMAIL", desc: "Show a user."}, args, func(svc *accounts.Service, u users.User) error {
		assigned, err := svc.Assignments(ctx, u.ID)
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
		row("console_role", u.ConsoleRole.String())
		row("password", accounts.PasswordKind(u.PasswordHash))
		row("two_step", svc.TwoStepStatus(ctx, u))
		row("passkeys", svc.PasskeyStatus(ctx, u))
		row("sign_in_lock", svc.LockStatus(ctx, u))
		row("assigned_sps", strings.Join(assigned, ","))
		row("created", u.CreatedAt.Format("2006-01-02 15:04:05Z"))
		row("updated", u.UpdatedAt.Format("2006-01-02 15:04:05Z"))
		for _, n := range u.Attributes.Names() {
			row("attr "+n, u.Attributes[n].String())
		}
		gs, err := svc.GroupsOf(ctx, u)
		if err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return showEffective(env.stdout, u, gs)
	})
}

// showEffective writes u's groups and effective profile (what release
// works on: users.Effective), each value with where it came from, aligned
// on its own below the user's fields.
func showEffective(w io.Writer, u users.User, gs []users.Group) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	p, err := users.Effective(u, gs)
	row("groups", strings.Join(p.Groups, ","))
	if err != nil {
		row("effective", "REFUSED: "+err.Error())
	}
	with := func(v, name string) string {
		if src := p.Source(name); src != "" {
			return v + "  (" + src + ")"
		}
		return v
	}
	if len(p.User.Roles) > 0 {
		row("effective roles", with(strings.Join(p.User.Roles, ","), "roles"))
	}
	for _, f := range []struct{ name, v string }{{"team", p.User.Team}, {"program", p.User.Program}} {
		if f.v != "" {
			row("effective "+f.name, with(f.v, f.name))
		}
	}
	for _, n := range p.User.Attributes.Names() {
		row("effective "+n, with(p.User.Attributes[n].String(), n))
	}
	return tw.Flush()
}

func runUsersUpdate(ctx context.Context, env *environment, args []string) error {
	var f userFields
	var newEmail string
	var set map[string]bool
	c := userCmd{name: "idp users update", usage: "--email EMAIL [flags]", desc: "Change profile fields; only the flags given are changed.",
		flags: func(fs *flag.FlagSet) {
			f.register(fs)
			fs.StringVar(&newEmail, "new-email", "", "change the email address")
		},
		check: func(fs *flag.FlagSet) error { set = visited(fs); return nil }}
	return updateUser(ctx, env, c, args, "user.update", "updated", func(u *users.User) error {
		if set["new-email"] {
			u.Email = newEmail
		}
		return f.apply(u, set)
	})
}

// updateUser runs c as a profile change through the account service,
// recorded as action, and says verb and the user.
func updateUser(ctx context.Context, env *environment, c userCmd, args []string, action, verb string, change func(*users.User) error) error {
	return onUserRef(ctx, env, c, args, func(svc *accounts.Service, ref string) error {
		u, err := svc.UpdateUser(ctx, env.admin(), ref, action, change)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s user %s\n", verb, u.Email)
		return nil
	})
}

func runUsersSetPassword(ctx context.Context, env *environment, args []string) error {
	c := userCmd{name: "idp users set-password", usage: "--email EMAIL",
		desc: "Set a user's password, read from stdin or prompted for. Ends the user's sessions and\nunlocks the account, like a password link."}
	return withUser(ctx, env, c, args, func(svc *accounts.Service, u users.User) error {
		pw, err := readPassword(env, svc, "New password: ", u.Email)
		if err != nil {
			return err
		}
		n, err := svc.SetPassword(ctx, env.admin(), u.ID, pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "set the password of user %s\n", u.Email)
		sayEnded(env, n)
		return nil
	})
}

// sayEnded says how many sessions a change ended, if any.
func sayEnded(env *environment, n int) {
	if n > 0 {
		fmt.Fprintf(env.stdout, "ended %d session(s)\n", n)
	}
}

func runUsersDisable(ctx context.Context, env *environment, args []string) error {
	c := userCmd{name: "idp users disable", usage: "--email EMAIL", desc: "Disable a user: they cannot sign in, and their sessions end."}
	return withUser(ctx, env, c, args, func(svc *accounts.Service, u users.User) error {
		n, err := svc.Disable(ctx, env.admin(), u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "disabled user %s\n", u.Email)
		sayEnded(env, n)
		return nil
	})
}

func runUsersEnable(ctx context.Context, env *environment, args []string) error {
	c := userCmd{name: "idp users enable", usage: "--email EMAIL", desc: "Enable a disabled user."}
	return withUser(ctx, env, c, args, func(svc *accounts.Service, u users.User) error {
		if err := svc.Enable(ctx, env.admin(), u.ID); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "enabled user %s\n", u.Email)
		return nil
	})
}

func runUsersDelete(ctx context.Context, env *environment, args []string) error {
	c := userCmd{name: "idp users delete", usage: "--email EMAIL", desc: "Delete a user, their sessions and assignments."}
	return onUserRef(ctx, env, c, args, func(svc *accounts.Service, ref string) error {
		u, err := svc.Delete(ctx, env.admin(), ref)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "deleted user %s\n", u.Email)
		return nil
	})
}

func runUsersGrant(ctx context.Context, env *environment, args []string) error {
	var console string
	var role users.ConsoleRole
	c := userCmd{name: "idp users grant", usage: "--email EMAIL --console owner|manager|viewer|none",
		desc: "Set a user's admin console role, separate from their Flex roles: owner (everything, including\n" +
			"service providers, keys and console roles), manager (users, import and export), viewer (read,\n" +
			"audit log), or none. The last owner cannot be demoted. Recorded in the audit log.",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&console, "console", "", "the console role: owner, manager, viewer or none")
		},
		check: func(*flag.FlagSet) error {
			if console == "" {
				return usageError{"idp users grant: give --console owner, manager, viewer or none"}
			}
			var err error
			if role, err = users.ParseConsoleRole(console); err != nil {
				return usageError{"idp users grant: " + err.Error()}
			}
			return nil
		}}
	return withUser(ctx, env, c, args, func(svc *accounts.Service, u users.User) error {
		before := u.ConsoleRole
		u, err := svc.Grant(ctx, env.admin(), u.ID, role)
		if err != nil {
			return err
		}
		if before == u.ConsoleRole {
			fmt.Fprintf(env.stdout, "%s already has console role %s\n", u.Email, u.ConsoleRole)
			return nil
		}
		fmt.Fprintf(env.stdout, "console role of %s: %s (was %s)\n", u.Email, u.ConsoleRole, before)
		return nil
	})
}

func runUsersSetAttr(ctx context.Context, env *environment, args []string) error {
	values := attributes.Set{}
	c := userCmd{name: "idp users set-attr", usage: "--email EMAIL NAME=VALUE...", free: true,
		desc: "Set custom Flex attributes, e.g. skills.intarray=1,2,3 channel.chat.capacity=3 department=Sales.\nEach value is checked against its type; nothing is written if one is wrong.",
		check: func(*flag.FlagSet) error {
			pairs := positional(args)
			if len(pairs) == 0 {
				return usageError{"idp users set-attr: give at least one NAME=VALUE"}
			}
			var err error
			values, err = parseAttrs(pairs)
			return err
		}}
	return updateUser(ctx, env, c, args, "user.set-attr", "set attributes of", func(u *users.User) error {
		if u.Attributes == nil {
			u.Attributes = attributes.Set{}
		}
		for n, v := range values {
			u.Attributes[n] = v
		}
		return nil
	})
}

func runUsersUnsetAttr(ctx context.Context, env *environment, args []string) error {
	names := positional(args)
	c := userCmd{name: "idp users unset-attr", usage: "--email EMAIL NAME...", desc: "Remove custom attributes.", free: true,
		check: func(*flag.FlagSet) error {
			if len(names) == 0 {
				return usageError{"idp users unset-attr: give at least one attribute name"}
			}
			return nil
		}}
	return updateUser(ctx, env, c, args, "user.unset-attr", "removed attributes of", func(u *users.User) error {
		for _, n := range names {
			if _, ok := u.Attributes[n]; !ok {
				return fmt.Errorf("the user has no attribute %q", n)
			}
			delete(u.Attributes, n)
		}
		return nil
	})
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
