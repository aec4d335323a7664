package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/sp"
)

func flexCommands() map[string]command {
	return map[string]command{
		"setup-values": {summary: "print what to paste into the Twilio Console", run: runFlexSetupValues},
	}
}

func runFlexSetupValues(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp flex setup-values", "[flags]", "Print the values to paste into the Twilio Console (Flex > Manage > Single sign-on).")
	dbURL := databaseFlag(env, fs)
	baseURL := fs.String("base-url", envOr(env, "IDP_BASE_URL", ""), "external URL of flexidp (IDP_BASE_URL; default: the one idp serve or idp dev last ran with)")
	keyEnc := fs.String("key-encryption-key", envOr(env, "IDP_KEY_ENCRYPTION_KEY", ""), "(IDP_KEY_ENCRYPTION_KEY)")
	certFile := fs.String("signing-cert-file", envOr(env, "IDP_SIGNING_CERT_FILE", ""), "certificate file, when keys come from files (IDP_SIGNING_CERT_FILE)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	return withService(ctx, env, *dbURL, func(svc *accounts.Service) error {
		// The recorded base URL is a setting read, config.go's baseURLFor.
		base, err := baseURLFor(ctx, svc, *baseURL)
		if err != nil {
			return err
		}
		var ks *saml.KeySet
		if *certFile != "" {
			cert, err := readCertFile(*certFile)
			if err != nil {
				return err
			}
			ks = &saml.KeySet{Certificate: cert}
		} else {
			sealer, err := keys.NewSealer(*keyEnc)
			if err != nil {
				return err
			}
			if ks, err = keys.Current(ctx, keys.LoaderConfig{Store: svc.Store(), Sealer: sealer, CommonName: endpointsFor(base).entityID}); err != nil {
				return err
			}
		}
		sps, err := svc.ListSPs(ctx)
		if err != nil {
			return err
		}
		printSetupValues(env.stdout, base, ks, sps, "")
		return nil
	})
}

func readCertFile(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	return keys.ParseCertificate(b)
}

// printSetupValues writes the Twilio Console values: one place, used by
// `flex setup-values` and `dev`. dbFlag (" --data FILE" under idp dev) is
// added to the admin commands it suggests, so they reach this database.
func printSetupValues(w io.Writer, baseURL *url.URL, ks *saml.KeySet, sps []sp.ServiceProvider, dbFlag string) {
	v := accounts.SetupValuesFor(baseURL, ks, sps)
	fmt.Fprintf(w, accounts.FlexConsoleSSO+`: paste these values.

  Identity Provider Issuer:  %s
  Single Sign-On URL:        %s
  Metadata URL (optional):   %s
  X.509 Certificate (expires %s):
%s`, v.EntityID, v.SSO, v.Metadata, v.Active.Expires.Format("2006-01-02"), v.Active.PEM)
	for _, c := range v.Next {
		fmt.Fprintf(w, "\n  A NEXT signing key is published in the metadata (expires %s). Paste its certificate into\n  the Console right after `idp keys activate`; until then keep the one above:\n%s",
			c.Expires.Format("2006-01-02"), c.PEM)
	}
	if len(v.SPs) == 0 {
		fmt.Fprintf(w, "\nNo Flex account is registered yet: run `idp sp add-flex%s --acs <ACS URL from the Flex console>`.\n", dbFlag)
		return
	}
	for _, s := range v.SPs {
		fmt.Fprintf(w, "\nService provider %s (audience %s)\n", s.Name, s.Audience)
		fmt.Fprintf(w, "  IdP-initiated login:       %s\n", s.IdPInitiated)
		if s.DefaultRedirectURL != "" {
			fmt.Fprintf(w, "  Default Redirect URL:      %s (set the same value in the Console)\n", s.DefaultRedirectURL)
		} else {
			fmt.Fprintf(w, "  Default Redirect URL:      not set (needed for IdP-initiated login: idp sp set%s --sp %s --default-redirect-url https://flex.twilio.com/<runtime-domain>)\n", dbFlag, s.Name)
		}
	}
}
