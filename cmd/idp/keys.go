package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/store"
)

func keysCommands() map[string]command {
	return map[string]command{
		"list":     {summary: "list signing keys and their states", run: runKeysList},
		"add":      {summary: "generate a next key, published in metadata but not yet signing", run: runKeysAdd},
		"activate": {summary: "make a key the one that signs (the previous one is retired)", run: runKeysActivate},
		"retire":   {summary: "stop publishing a key", run: runKeysRetire},
	}
}

func keysFlags(env *environment, name, usage, desc string, args []string, nargs int) (dbURL, keyEnc, baseURL string, rest []string, err error) {
	fs := newFlags(env, name, usage, desc)
	db := databaseFlag(env, fs)
	ke := fs.String("key-encryption-key", envOr(env, "IDP_KEY_ENCRYPTION_KEY", ""), "secret that encrypts private keys at rest (IDP_KEY_ENCRYPTION_KEY)")
	bu := fs.String("base-url", envOr(env, "IDP_BASE_URL", "http://localhost:8080"), "external URL of flexidp, for the certificate name (IDP_BASE_URL)")
	if err := parse(fs, args, nargs); err != nil {
		return "", "", "", nil, err
	}
	return *db, *ke, *bu, fs.Args(), nil
}

func runKeysList(ctx context.Context, env *environment, args []string) error {
	dbURL, _, _, _, err := keysFlags(env, "idp keys list", "[flags]", "List signing keys.", args, 0)
	if err != nil {
		return err
	}
	return withService(ctx, env, dbURL, func(svc *accounts.Service) error {
		list, err := svc.ListKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tCREATED\tCERT EXPIRES")
		for _, k := range list {
			expires := "?"
			if t := accounts.KeyExpires(k); !t.IsZero() {
				expires = t.Format("2006-01-02")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.State, k.CreatedAt.Format("2006-01-02 15:04Z"), expires)
		}
		return tw.Flush()
	})
}

func runKeysAdd(ctx context.Context, env *environment, args []string) error {
	dbURL, keyEnc, baseURL, _, err := keysFlags(env, "idp keys add", "[flags]", `Generate the next signing key. It is published in the metadata beside the active key
but does not sign yet. Then: idp keys activate ID, and paste its certificate into the
Twilio Console right away (idp flex setup-values shows it).`, args, 0)
	if err != nil {
		return err
	}
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return err
	}
	sealer, err := keys.NewSealer(keyEnc)
	if err != nil {
		return err
	}
	return withService(ctx, env, dbURL, func(svc *accounts.Service) error {
		k, err := svc.AddKey(ctx, env.admin(), sealer, endpointsFor(base).entityID)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "added next key %s (published in metadata, not signing)\n", k.ID)
		return nil
	})
}

func runKeysActivate(ctx context.Context, env *environment, args []string) error {
	return setKeyState(ctx, env, args, store.KeyActive, "idp keys activate", `Make key ID the signing key; the previously active key is retired.
Every replica picks it up within 30 seconds. Flex trusts only the certificate pasted in
its Console: paste the new one (idp flex setup-values) at the same time.`)
}

func runKeysRetire(ctx context.Context, env *environment, args []string) error {
	return setKeyState(ctx, env, args, store.KeyRetired, "idp keys retire", "Stop publishing key ID. The active key cannot be retired; activate another first.")
}

func setKeyState(ctx context.Context, env *environment, args []string, state store.KeyState, name, desc string) error {
	dbURL, _, baseURL, rest, err := keysFlags(env, name, "[flags] ID", desc, args, 1)
	if err != nil {
		return err
	}
	id := rest[0]
	return withService(ctx, env, dbURL, func(svc *accounts.Service) error {
		changed, err := svc.SetKeyState(ctx, env.admin(), id, state)
		switch {
		case err != nil:
			return err
		case !changed:
			fmt.Fprintf(env.stdout, "key %s is already %s\n", id, state)
		default:
			fmt.Fprintf(env.stdout, "key %s is now %s\n", id, state)
		}
		if state == store.KeyActive {
			return printActivationSteps(ctx, env, svc, id, baseURL)
		}
		return nil
	})
}

// printActivationSteps writes what to do in the Twilio Console now that
// key id signs, and its certificate: the steps are the service's
// (accounts.KeyActivationSteps), the same the console's Keys page shows.
func printActivationSteps(ctx context.Context, env *environment, svc *accounts.Service, id, baseURL string) error {
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return err
	}
	list, err := svc.ListKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range list {
		if k.ID != id {
			continue
		}
		fmt.Fprintln(env.stdout, "\nNow, in the Twilio Console:")
		for i, step := range accounts.KeyActivationSteps(endpointsFor(base).entityID) {
			fmt.Fprintf(env.stdout, "  %d. %s\n", i+1, step)
		}
		fmt.Fprintf(env.stdout, "\n%s", k.CertificatePEM)
	}
	return nil
}
