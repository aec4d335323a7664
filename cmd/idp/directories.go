package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/directory"
	"github.com/flexidp/flexidp/internal/keys"
)

func directoriesCommands() map[string]command {
	return map[string]command{
		"add":    {summary: "connect an LDAP / Active Directory source, or (--kind oidc) an OpenID Provider: Google Workspace, Microsoft Entra", run: runDirAdd},
		"list":   {summary: "list sources", run: runDirList},
		"show":   {summary: "show a source's settings (never its password)", run: runDirShow},
		"set":    {summary: "change a source's settings; only the flags given are changed", run: runDirSet},
		"remove": {summary: "remove a source (its users stay, and can no longer sign in through it)", run: runDirRemove},
		"test":   {summary: "connect to a source, and look a user up with --user", run: runDirTest},
	}
}

// directorySealer seals the directories' secrets at rest with
// IDP_KEY_ENCRYPTION_KEY, as the signing keys are (a purpose of its own).
func directorySealer(secret string) (*keys.Sealer, error) {
	return keys.NewSealerFor("directory secret", "directory password", "IDP_KEY_ENCRYPTION_KEY", secret)
}

// dirSettings are the flags shared by add and set.
type dirSettings struct {
	urls, mapGroups, unmapGroups                             multiFlag
	caFile, bindDN, passwordFile, userBase, userFilter       string
	loginAttrs, disabledFilter, groupBase, groupFilter, doms string
	maxNesting, timeoutSeconds, poolSize                     int
	startTLS, allowPlain                                     bool
	// OpenID Connect
	issuer, clientID, secretFile, scopes, groupsClaim, rolesClaim string
}

func (o *dirSettings) register(fs *flag.FlagSet) {
	fs.Var(&o.urls, "url", "a server, ldaps://host[:port] or ldap://host[:port]; repeat: the first is the primary, the others fallbacks in order")
	fs.StringVar(&o.caFile, "ca-file", "", "PEM file of the CA that issued the servers' certificates (pinned: the system's CAs are not trusted)")
	fs.BoolVar(&o.startTLS, "start-tls", false, "upgrade ldap:// connections with StartTLS")
	fs.BoolVar(&o.allowPlain, "allow-plain-ldap", false, "allow ldap:// without TLS: passwords cross the network in the clear (a lab only)")
	fs.StringVar(&o.bindDN, "bind-dn", "", "the service account that searches, e.g. 'CN=flexidp,OU=Service,DC=acme,DC=com'")
	fs.StringVar(&o.passwordFile, "bind-password-file", "", "file holding the service account's password (else IDP_DIRECTORY_BIND_PASSWORD)")
	fs.StringVar(&o.userBase, "user-base", "", "base DN users are searched under (subtree)")
	fs.StringVar(&o.userFilter, "user-filter", "", "filter users must match (default (objectClass=person))")
	fs.StringVar(&o.loginAttrs, "login-attributes", "", "comma-separated attributes a sign-in name is matched in (default sAMAccountName,userPrincipalName,mail)")
	fs.StringVar(&o.disabledFilter, "disabled-filter", "", "filter of users who may not sign in (default AD's (userAccountControl:1.2.840.113556.1.4.803:=2); OpenLDAP ppolicy: (pwdAccountLockedTime=*))")
	fs.StringVar(&o.groupBase, "group-base", "", "base DN groups are searched under (default: --user-base)")
	fs.StringVar(&o.groupFilter, "group-filter", "", "filter of group entries (default (|(objectClass=group)(objectClass=groupOfNames)))")
	fs.IntVar(&o.maxNesting, "max-nesting", 0, "levels of nested groups followed when the server is not AD (default 10)")
	fs.IntVar(&o.timeoutSeconds, "timeout", 0, "seconds for each connection and request (default 5)")
	fs.IntVar(&o.poolSize, "pool-size", 0, "idle service connections kept (default 4)")
	fs.StringVar(&o.doms, "domains", "", "comma-separated email domains this source signs in, e.g. 'acme.com,acme.co.uk' (empty: any login no other source names)")
	fs.Var(&o.mapGroups, "map-group", "'GROUP DN=flexidp group': members of the directory group (nested ones too) are in the flexidp group; repeat")
	fs.Var(&o.unmapGroups, "unmap-group", "a directory group DN (OIDC: claim value) no longer mapped (set only); repeat")
	fs.StringVar(&o.issuer, "issuer", "", "OIDC: the provider's issuer URL (Google: https://accounts.google.com; Entra: https://login.microsoftonline.com/TENANT-ID/v2.0)")
	fs.StringVar(&o.clientID, "client-id", "", "OIDC: the client (application) ID flexidp is registered with")
	fs.StringVar(&o.secretFile, "client-secret-file", "", "OIDC: file holding the client secret (else IDP_DIRECTORY_CLIENT_SECRET)")
	fs.StringVar(&o.scopes, "scopes", "", "OIDC: comma-separated scopes (default openid,email,profile)")
	fs.StringVar(&o.groupsClaim, "groups-claim", "", "OIDC: the ID token claim of the person's groups (default groups)")
	fs.StringVar(&o.rolesClaim, "roles-claim", "", "OIDC: the ID token claim of the person's app roles, mapped as 'role:NAME' (default roles)")
}

// The flags of one kind of source only.
var (
	ldapOnly = []string{"url", "ca-file", "start-tls", "allow-plain-ldap", "bind-dn", "bind-password-file", "user-base", "user-filter",
		"login-attributes", "disabled-filter", "group-base", "group-filter", "max-nesting", "pool-size"}
	oidcOnly = []string{"issuer", "client-id", "client-secret-file", "scopes", "groups-claim", "roles-claim"}
)

// applyOIDC copies the OIDC flags given (set) onto src.
func (o *dirSettings) applyOIDC(env *environment, src *accounts.Source, set map[string]bool) error {
	c := &src.OIDC
	for name, apply := range map[string]func(){
		"issuer": func() { c.Issuer = o.issuer }, "client-id": func() { c.ClientID = o.clientID },
		"scopes": func() { c.Scopes = accounts.SplitList(o.scopes, ",") }, "groups-claim": func() { c.GroupsClaim = o.groupsClaim },
		"roles-claim": func() { c.RolesClaim = o.rolesClaim }, "timeout": func() { c.TimeoutSeconds = o.timeoutSeconds },
		"domains": func() { src.Domains = accounts.SplitList(o.doms, ",") },
	} {
		if set[name] {
			apply()
		}
	}
	for _, name := range ldapOnly {
		if set[name] {
			return fmt.Errorf("--%s is an LDAP setting; source %s is an OpenID Connect source", name, src.Name)
		}
	}
	if c.Groups == nil {
		c.Groups = map[string]string{}
	}
	for _, m := range o.mapGroups {
		v, group, ok := cutLast(m, "=")
		if !ok {
			return fmt.Errorf("--map-group: %q is not 'CLAIM VALUE=flexidp group'", m)
		}
		c.Groups[strings.TrimSpace(v)] = strings.TrimSpace(group)
	}
	for _, v := range o.unmapGroups {
		if _, ok := c.Groups[v]; !ok {
			return fmt.Errorf("--unmap-group: %q is not mapped", v)
		}
		delete(c.Groups, v)
	}
	switch {
	case o.secretFile != "":
		b, err := os.ReadFile(o.secretFile)
		if err != nil {
			return fmt.Errorf("--client-secret-file: %w", err)
		}
		src.Password = strings.TrimRight(string(b), "\r\n")
	case env.getenv("IDP_DIRECTORY_CLIENT_SECRET") != "":
		src.Password = env.getenv("IDP_DIRECTORY_CLIENT_SECRET")
	}
	return nil
}

// apply copies the flags given (set) onto src.
func (o *dirSettings) apply(env *environment, src *accounts.Source, set map[string]bool) error {
	if src.Kind == accounts.KindOIDC {
		return o.applyOIDC(env, src, set)
	}
	for _, name := range oidcOnly {
		if set[name] {
			return fmt.Errorf("--%s is an OpenID Connect setting; source %s is an LDAP source (add one with --kind oidc)", name, src.Name)
		}
	}
	l := &src.LDAP
	if set["url"] {
		l.URLs = o.urls
	}
	if set["ca-file"] {
		l.CAPEM = ""
		if o.caFile != "" {
			b, err := os.ReadFile(o.caFile)
			if err != nil {
				return fmt.Errorf("--ca-file: %w", err)
			}
			l.CAPEM = string(b)
		}
	}
	for name, apply := range map[string]func(){
		"start-tls": func() { l.StartTLS = o.startTLS }, "allow-plain-ldap": func() { l.AllowPlain = o.allowPlain },
		"bind-dn": func() { l.BindDN = o.bindDN }, "user-base": func() { l.UserBase = o.userBase },
		"user-filter": func() { l.UserFilter = o.userFilter }, "login-attributes": func() { l.LoginAttrs = accounts.SplitList(o.loginAttrs, ",") },
		"disabled-filter": func() { l.DisabledFilter = o.disabledFilter }, "group-base": func() { l.GroupBase = o.groupBase },
		"group-filter": func() { l.GroupFilter = o.groupFilter }, "max-nesting": func() { l.MaxNesting = o.maxNesting },
		"timeout": func() { l.TimeoutSeconds = o.timeoutSeconds }, "pool-size": func() { l.PoolSize = o.poolSize },
		"domains": func() { src.Domains = accounts.SplitList(o.doms, ",") },
	} {
		if set[name] {
			apply()
		}
	}
	if l.Groups == nil {
		l.Groups = map[string]string{}
	}
	for _, m := range o.mapGroups {
		dn, group, ok := cutLast(m, "=")
		if !ok {
			return fmt.Errorf("--map-group: %q is not 'GROUP DN=flexidp group'", m)
		}
		l.Groups[strings.TrimSpace(dn)] = strings.TrimSpace(group)
	}
	for _, dn := range o.unmapGroups {
		found := false
		for k := range l.Groups {
			if directory.Canonical(k) == directory.Canonical(dn) {
				delete(l.Groups, k)
				found = true
			}
		}
		if !found {
			return fmt.Errorf("--unmap-group: %q is not mapped", dn)
		}
	}
	switch {
	case o.passwordFile != "":
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return fmt.Errorf("--bind-password-file: %w", err)
		}
		src.Password = strings.TrimRight(string(b), "\r\n")
	case env.getenv("IDP_DIRECTORY_BIND_PASSWORD") != "":
		src.Password = env.getenv("IDP_DIRECTORY_BIND_PASSWORD")
	}
	return nil
}

// cutLast cuts s around the last sep (a DN holds '=' itself).
func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// onDirectory parses a command acting on the source named by --name.
func onDirectory(ctx context.Context, env *environment, name, usage, desc string, args []string, extra func(*flag.FlagSet),
	act func(svc *accounts.Service, fs *flag.FlagSet, dirName string) error) error {
	fs := newFlags(env, name, usage, desc)
	dbURL := databaseFlag(env, fs)
	dirName := fs.String("name", "", "the source's name; required")
	if extra != nil {
		extra(fs)
	}
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *dirName == "" {
		fs.Usage()
		return usageError{name + ": --name is required"}
	}
	return withService(ctx, env, *dbURL, func(svc *accounts.Service) error { return act(svc, fs, *dirName) })
}

func runDirAdd(ctx context.Context, env *environment, args []string) error {
	var o dirSettings
	var kind string
	return onDirectory(ctx, env, "idp directories add", "--name NAME --url ldaps://dc1.acme.com --ca-file ca.pem --bind-dn DN --user-base DN [flags]\n"+
		"       idp directories add --kind oidc --name NAME --issuer URL --client-id ID --client-secret-file FILE --domains acme.com [flags]",
		"Connect an LDAP or Active Directory source. The bind password comes from IDP_DIRECTORY_BIND_PASSWORD or --bind-password-file\nand is sealed at rest with IDP_KEY_ENCRYPTION_KEY.\n"+
			"With --kind oidc, connect an OpenID Provider (Google Workspace, Microsoft Entra); the client secret comes from\n"+
			"IDP_DIRECTORY_CLIENT_SECRET or --client-secret-file and is sealed the same way.", args,
		func(fs *flag.FlagSet) {
			o.register(fs)
			fs.StringVar(&kind, "kind", accounts.KindLDAP, "ldap (LDAP / Active Directory) or oidc (OpenID Connect)")
		},
		func(svc *accounts.Service, fs *flag.FlagSet, name string) error {
			src := accounts.Source{Name: name, Kind: kind}
			if err := o.apply(env, &src, visited(fs)); err != nil {
				return err
			}
			if _, err := svc.AddDirectory(ctx, env.admin(), src); err != nil {
				return err
			}
			if kind == accounts.KindOIDC {
				fmt.Fprintf(env.stdout, "added source %s; its redirect URI is %s/login/oidc/callback; check it with: idp directories test --name %s\n",
					name, strings.TrimSuffix(cmp.Or(env.getenv("IDP_BASE_URL"), "https://IDP_BASE_URL"), "/"), name)
				return nil
			}
			fmt.Fprintf(env.stdout, "added source %s; check it with: idp directories test --name %s --user SOMEONE\n", name, name)
			return nil
		})
}

func runDirSet(ctx context.Context, env *environment, args []string) error {
	var o dirSettings
	return onDirectory(ctx, env, "idp directories set", "--name NAME [flags]",
		"Change a source's settings; only the flags given are changed (a new bind password from IDP_DIRECTORY_BIND_PASSWORD or --bind-password-file).", args, o.register,
		func(svc *accounts.Service, fs *flag.FlagSet, name string) error {
			if _, err := svc.UpdateDirectory(ctx, env.admin(), name, func(src *accounts.Source) error {
				return o.apply(env, src, visited(fs))
			}); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "updated source %s\n", name)
			return nil
		})
}

func runDirList(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp directories list", "", "List the sources people sign in through.")
	dbURL := databaseFlag(env, fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	return withService(ctx, env, *dbURL, func(svc *accounts.Service) error {
		srcs, err := svc.ListDirectories(ctx)
		if err != nil {
			return err
		}
		if len(srcs) == 0 {
			fmt.Fprintln(env.stdout, "no sources: people sign in with flexidp passwords (add one with idp directories add)")
			return nil
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tSERVERS\tDOMAINS")
		for _, s := range srcs {
			servers := strings.Join(s.LDAP.URLs, " ")
			if s.Kind == accounts.KindOIDC {
				servers = s.OIDC.Issuer
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Kind, servers, orDash(strings.Join(s.Domains, ",")))
		}
		return tw.Flush()
	})
}

// rows returns a writer of "key: value" lines, aligned once flushed.
func rows(env *environment) (*tabwriter.Writer, func(k, v string)) {
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	return tw, func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
}

func runDirShow(ctx context.Context, env *environment, args []string) error {
	return onDirectory(ctx, env, "idp directories show", "--name NAME", "Show a source's settings (never its password).", args, nil,
		func(svc *accounts.Service, _ *flag.FlagSet, name string) error {
			s, err := svc.GetDirectory(ctx, name)
			if err != nil {
				return err
			}
			l := s.LDAP
			tw, row := rows(env)
			row("name", s.Name)
			row("kind", s.Kind)
			if s.Kind == accounts.KindOIDC {
				c := s.OIDC
				row("issuer", c.Issuer)
				row("client ID", c.ClientID)
				row("client secret", map[bool]string{true: "stored (never shown)", false: "none"}[s.HasPassword])
				row("scopes", orDash(strings.Join(c.Scopes, ",")))
				row("groups claim", orDash(c.GroupsClaim))
				row("roles claim", orDash(c.RolesClaim))
				row("domains", strings.Join(s.Domains, ","))
				for v, g := range c.Groups {
					row("group "+g, v)
				}
				return tw.Flush()
			}
			row("servers", strings.Join(l.URLs, " "))
			tlsMode := "ldaps"
			switch {
			case l.StartTLS:
				tlsMode = "StartTLS"
			case l.AllowPlain:
				tlsMode = "ldaps where given; plain LDAP allowed"
			}
			row("TLS", tlsMode)
			row("pinned CA", map[bool]string{true: "yes", false: "none"}[l.CAPEM != ""])
			row("bind DN", l.BindDN)
			row("bind password", map[bool]string{true: "stored (never shown)", false: "none"}[s.HasPassword])
			row("user base", l.UserBase)
			row("user filter", orDash(l.UserFilter))
			row("login attributes", orDash(strings.Join(l.LoginAttrs, ",")))
			row("disabled filter", orDash(l.DisabledFilter))
			row("group base", orDash(l.GroupBase))
			row("domains", orDash(strings.Join(s.Domains, ",")))
			for dn, g := range l.Groups {
				row("group "+g, dn)
			}
			return tw.Flush()
		})
}

func runDirRemove(ctx context.Context, env *environment, args []string) error {
	return onDirectory(ctx, env, "idp directories remove", "--name NAME", "Remove a source; its users stay, and can no longer sign in through it.", args, nil,
		func(svc *accounts.Service, _ *flag.FlagSet, name string) error {
			if err := svc.RemoveDirectory(ctx, env.admin(), name); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "removed source %s\n", name)
			return nil
		})
}

func runDirTest(ctx context.Context, env *environment, args []string) error {
	var user string
	return onDirectory(ctx, env, "idp directories test", "--name NAME [--user LOGIN]",
		"Connect with the service account and, with --user, look the user up (no password): their entry, state and groups.", args,
		func(fs *flag.FlagSet) { fs.StringVar(&user, "user", "", "a sign-in name to look up") },
		func(svc *accounts.Service, _ *flag.FlagSet, name string) error {
			p, err := svc.TestDirectory(ctx, name, user)
			if err != nil {
				return err
			}
			if user == "" {
				fmt.Fprintf(env.stdout, "source %s answers\n", name)
				return nil
			}
			e := p.Entry
			tw, row := rows(env)
			row("DN", e.DN)
			row("email", e.Email)
			row("name", e.FullName)
			row("disabled", fmt.Sprint(e.Disabled))
			row("directory groups", orDash(strings.Join(e.Groups, "; ")))
			row("flexidp groups", orDash(strings.Join(p.Groups, ", ")))
			return tw.Flush()
		})
}
