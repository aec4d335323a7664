package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/users"
)

func groupsCommands() map[string]command {
	return map[string]command{
		"create": {summary: "create a group carrying Flex roles, a team and attributes", run: runGroupsCreate},
		"list":   {summary: "list groups", run: runGroupsList},
		"show":   {summary: "show one group and its members", run: runGroupsShow},
		"set":    {summary: "change a group's name, roles, team or attributes", run: runGroupsSet},
		"delete": {summary: "delete a group (its members lose what it gave them)", run: runGroupsDelete},
		"add":    {summary: "add users (emails or IDs) to a group", run: runGroupsAdd},
		"remove": {summary: "remove users (emails or IDs) from a group", run: runGroupsRemove},
	}
}

// groupFields are the flags shared by create and set.
type groupFields struct {
	name, description, externalID, roles, team, program, unset string
}

func (f *groupFields) register(fs *flag.FlagSet, create bool) {
	help := "the new name (unique, case-insensitive)"
	if create {
		help = "the group's name (unique, case-insensitive); required"
	}
	fs.StringVar(&f.name, "name", "", help)
	fs.StringVar(&f.description, "description", "", "what the group is for")
	fs.StringVar(&f.externalID, "external-id", "", "the identifier a provisioning client (SCIM) knows the group by")
	fs.StringVar(&f.roles, "roles", "", "comma-separated Flex roles every member receives (admin, supervisor, agent, wfo.*)")
	fs.StringVar(&f.team, "team", "", "team given to members without one of their own")
	fs.StringVar(&f.program, "program", "", "program given to members without one of their own")
	if !create {
		fs.StringVar(&f.unset, "unset-attr", "", "comma-separated attribute names to remove from the group")
	}
}

// apply copies the flags that were set, then the NAME=VALUE attributes,
// onto g.
func (f *groupFields) apply(g *users.Group, set map[string]bool, values attributes.Set) error {
	for _, x := range []struct {
		flag       string
		from, into *string
	}{
		{"name", &f.name, &g.Name}, {"description", &f.description, &g.Description}, {"external-id", &f.externalID, &g.ExternalID},
		{"team", &f.team, &g.Team}, {"program", &f.program, &g.Program},
	} {
		if set[x.flag] {
			*x.into = *x.from
		}
	}
	if set["roles"] {
		roles, err := attributes.ParseRoles(f.roles)
		if err != nil {
			return err
		}
		g.Roles = roles
	}
	if set["unset-attr"] {
		for _, n := range strings.Split(f.unset, ",") {
			n = strings.TrimSpace(n)
			if _, ok := g.Attributes[n]; !ok {
				return fmt.Errorf("the group has no attribute %q", n)
			}
			delete(g.Attributes, n)
		}
	}
	if len(values) > 0 && g.Attributes == nil {
		g.Attributes = attributes.Set{}
	}
	for n, v := range values {
		g.Attributes[n] = v
	}
	return nil
}

// parseAttrs parses NAME=VALUE arguments as set-attr does.
func parseAttrs(pairs []string) (attributes.Set, error) {
	values := attributes.Set{}
	for _, p := range pairs {
		name, raw, ok := strings.Cut(p, "=")
		if !ok {
			return nil, usageError{fmt.Sprintf("%q is not NAME=VALUE", p)}
		}
		v, err := attributes.Parse(name, raw)
		if err != nil {
			return nil, err
		}
		values[name] = v
	}
	return values, values.Validate()
}

// groupCmd parses a groups command: its flags (extra), --group unless
// create, and the free arguments after the flags; then runs act on the
// service.
func groupCmd(ctx context.Context, env *environment, name, usage, desc string, args []string, needGroup bool,
	extra func(fs *flag.FlagSet), act func(svc *accounts.Service, fs *flag.FlagSet, group string, free []string) error) error {
	free := positional(args)
	fs := newFlags(env, name, usage, desc)
	dbURL := databaseFlag(env, fs)
	var group string
	if needGroup {
		fs.StringVar(&group, "group", "", "the group's name (any case), ID or external ID; required")
	}
	if extra != nil {
		extra(fs)
	}
	if err := parse(fs, argsBeforePositional(args), 0); err != nil {
		return err
	}
	if needGroup && group == "" {
		fs.Usage()
		return usageError{name + ": --group is required"}
	}
	return withService(ctx, env, *dbURL, func(svc *accounts.Service) error { return act(svc, fs, group, free) })
}

func runGroupsCreate(ctx context.Context, env *environment, args []string) error {
	var f groupFields
	return groupCmd(ctx, env, "idp groups create", "--name NAME [flags] [NAME=VALUE...]",
		"Create a group. Its members receive its roles (added to their own), and its team, program and\n"+
			"attributes where they have no value of their own (e.g. skills.stringarray=spanish,sales\n"+
			"channel.chat.capacity=3). See README, \"Groups\", for the precedence.", args, false,
		func(fs *flag.FlagSet) { f.register(fs, true) },
		func(svc *accounts.Service, fs *flag.FlagSet, _ string, free []string) error {
			values, err := parseAttrs(free)
			if err != nil {
				return err
			}
			var g users.Group
			if err := f.apply(&g, visited(fs), values); err != nil {
				return err
			}
			if g.Name == "" {
				return usageError{"idp groups create: --name is required"}
			}
			g, err = svc.CreateGroup(ctx, env.admin(), g)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "created group %s (%s)\n", g.Name, g.ID)
			return nil
		})
}

func runGroupsList(ctx context.Context, env *environment, args []string) error {
	return groupCmd(ctx, env, "idp groups list", "", "List groups.", args, false, nil,
		func(svc *accounts.Service, _ *flag.FlagSet, _ string, free []string) error {
			if len(free) > 0 {
				return usageError{"idp groups list: takes no arguments"}
			}
			gs, err := svc.ListGroups(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLES\tTEAM\tATTRIBUTES\tDESCRIPTION")
			for _, g := range gs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Name, strings.Join(g.Roles, ","), g.Team, strings.Join(g.Attributes.Names(), ","), g.Description)
			}
			return tw.Flush()
		})
}

func runGroupsShow(ctx context.Context, env *environment, args []string) error {
	return groupCmd(ctx, env, "idp groups show", "--group NAME", "Show a group and its members.", args, true, nil,
		func(svc *accounts.Service, _ *flag.FlagSet, ref string, _ []string) error {
			g, err := svc.GetGroup(ctx, ref)
			if err != nil {
				return err
			}
			members, err := svc.GroupMembers(ctx, g.ID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
			row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
			row("id", g.ID)
			row("name", g.Name)
			row("description", g.Description)
			row("external_id", g.ExternalID)
			row("roles", strings.Join(g.Roles, ","))
			row("team", g.Team)
			row("program", g.Program)
			for _, n := range g.Attributes.Names() {
				row("attr "+n, g.Attributes[n].String())
			}
			row("members", fmt.Sprint(len(members)))
			for _, m := range members {
				row("member", m.Email)
			}
			return tw.Flush()
		})
}

func runGroupsSet(ctx context.Context, env *environment, args []string) error {
	var f groupFields
	return groupCmd(ctx, env, "idp groups set", "--group NAME [flags] [NAME=VALUE...]",
		"Change a group; only the flags and attributes given change. A change that would give a member\n"+
			"two different values of one attribute (from two groups) is refused, naming them.", args, true,
		func(fs *flag.FlagSet) { f.register(fs, false) },
		func(svc *accounts.Service, fs *flag.FlagSet, ref string, free []string) error {
			values, err := parseAttrs(free)
			if err != nil {
				return err
			}
			set := visited(fs)
			g, err := svc.UpdateGroup(ctx, env.admin(), ref, func(g *users.Group) error { return f.apply(g, set, values) })
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "updated group %s\n", g.Name)
			return nil
		})
}

func runGroupsDelete(ctx context.Context, env *environment, args []string) error {
	return groupCmd(ctx, env, "idp groups delete", "--group NAME",
		"Delete a group. Its members lose the roles and attributes it gave them at their next sign-in;\neach member's change is recorded in the audit log.", args, true, nil,
		func(svc *accounts.Service, _ *flag.FlagSet, ref string, _ []string) error {
			g, err := svc.DeleteGroup(ctx, env.admin(), ref)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "deleted group %s\n", g.Name)
			return nil
		})
}

func runGroupsAdd(ctx context.Context, env *environment, args []string) error {
	return changeMembers(ctx, env, args, true)
}

func runGroupsRemove(ctx context.Context, env *environment, args []string) error {
	return changeMembers(ctx, env, args, false)
}

func changeMembers(ctx context.Context, env *environment, args []string, add bool) error {
	name, verb, desc := "idp groups remove", "removed", "Remove users from a group. A user who is not a member is no error."
	if add {
		name, verb, desc = "idp groups add", "added", "Add users to a group. Nobody is added if one of them would receive two different\n"+
			"values of one attribute from two groups (the refusal names them)."
	}
	return groupCmd(ctx, env, name, "--group NAME EMAIL...", desc, args, true, nil,
		func(svc *accounts.Service, _ *flag.FlagSet, ref string, who []string) error {
			if len(who) == 0 {
				return usageError{name + ": give at least one user's email or ID"}
			}
			g, err := svc.GetGroup(ctx, ref)
			if err != nil {
				return err
			}
			if add {
				err = svc.AddMembers(ctx, env.admin(), g.ID, who...)
			} else {
				err = svc.RemoveMembers(ctx, env.admin(), g.ID, who...)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "%s %d user(s) %s group %s\n", verb, len(who), map[bool]string{true: "to", false: "from"}[add], g.Name)
			return nil
		})
}
