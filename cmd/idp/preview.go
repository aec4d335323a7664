package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/flexidp/flexidp/internal/accounts"
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
	return withService(ctx, env, *dbURL, func(svc *accounts.Service) error {
		pv, err := svc.PreviewRelease(ctx, *email, spName)
		if err != nil {
			return err
		}
		if pv.User.Disabled {
			fmt.Fprintln(env.stderr, "warning: the user is disabled and cannot sign in")
		}
		if pv.Unassigned {
			fmt.Fprintf(env.stderr, "warning: %s requires assignment and the user is not assigned to it: the sign-in would be refused (idp sp assign --sp %s --email %s)\n",
				pv.SP.Name, pv.SP.Name, pv.User.Email)
		}
		if asXML {
			return printPreviewXML(ctx, env, svc, baseURL, pv)
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "NameID\t%s\t(%s)\n", pv.Released.NameID, pv.Released.NameIDFormat)
		for _, a := range pv.Released.Attributes {
			fmt.Fprintf(tw, "%s\t%s\t(%s)\n", a.Name, strings.Join(quoteAll(a.Values), " | "), pv.Source(a.Name))
		}
		return tw.Flush()
	})
}

// printPreviewXML writes the unsigned Assertion of the preview, issued
// with the base URL of --base-url or the one the server last ran with.
func printPreviewXML(ctx context.Context, env *environment, svc *accounts.Service, baseURL string, pv accounts.Preview) error {
	base, err := baseURLFor(ctx, svc, baseURL)
	if err != nil {
		return err
	}
	ep := endpointsFor(base)
	idp, err := saml.New(saml.Config{EntityID: ep.entityID, SSOURL: ep.sso, SecureTransport: base.Scheme == "https"})
	if err != nil {
		return err
	}
	xml, err := idp.PreviewAssertion(pv.SP, pv.Released, saml.Grant{SessionIndex: "_preview", AuthnInstant: svc.Now()})
	if err != nil {
		return err
	}
	_, err = env.stdout.Write(append(xml, '\n'))
	return err
}

func quoteAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}
