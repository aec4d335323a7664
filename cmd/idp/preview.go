package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/saml"
)

func runUsersPreview(ctx context.Context, env *environment, args []string) error {
	var spName, baseURL string
	var asXML bool
	_, dbURL, email, err := userCommand(env, "idp users preview", "--email EMAIL --sp NAME [--xml]",
		"Show the NameID and attributes the service provider would receive for this user,\nexactly as Flex will get them, without signing in. Nothing is signed or sent.", args, func(fs *flag.FlagSet) {
			fs.StringVar(&spName, "sp", "", "the service provider's name; required")
			fs.BoolVar(&asXML, "xml", false, "print the unsigned Assertion XML")
			fs.StringVar(&baseURL, "base-url", envOr(env, "IDP_BASE_URL", ""), "external URL of flexidp (IDP_BASE_URL; default: the one idp serve or idp dev last ran with)")
		})
	if err != nil {
		return err
	}
	if spName == "" {
		return usageError{"idp users preview: --sp is required"}
	}
	st, u, err := openUser(ctx, env, *dbURL, *email)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := getSP(ctx, st, spName)
	if err != nil {
		return err
	}
	rel, err := attributes.Release(u.Subject(), s.Policy)
	if err != nil {
		return fmt.Errorf("%s would be refused at %s: %w", u.Email, s.Name, err)
	}
	if u.Disabled {
		fmt.Fprintln(env.stderr, "warning: the user is disabled and cannot sign in")
	}
	if asXML {
		base, err := baseURLFor(ctx, st, baseURL)
		if err != nil {
			return err
		}
		ep := endpointsFor(base)
		idp, err := saml.New(saml.Config{EntityID: ep.entityID, SSOURL: ep.sso, SecureTransport: base.Scheme == "https"})
		if err != nil {
			return err
		}
		now := time.Now()
		xml, err := idp.PreviewAssertion(s, rel, saml.Grant{SessionIndex: "_preview", AuthnInstant: now})
		if err != nil {
			return err
		}
		_, err = env.stdout.Write(append(xml, '\n'))
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NameID\t%s\t(%s)\n", rel.NameID, rel.NameIDFormat)
	for _, a := range rel.Attributes {
		fmt.Fprintf(tw, "%s\t%s\n", a.Name, strings.Join(quoteAll(a.Values), " | "))
	}
	return tw.Flush()
}

func quoteAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}
