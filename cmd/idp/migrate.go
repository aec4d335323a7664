package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

func runMigrate(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp migrate", "[flags]", "Apply the embedded database migrations and exit. Applying twice changes nothing;\nconcurrent runs (several replicas) are serialised by a lock.")
	dbURL := databaseFlag(env, fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	st, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(applied) == 0 {
		fmt.Fprintln(env.stdout, "database schema is up to date")
		return nil
	}
	for _, v := range applied {
		fmt.Fprintf(env.stdout, "applied %s\n", v)
	}
	return nil
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func runVersion(_ context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp version", "", "Print the version of flexidp.")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintf(env.stdout, "flexidp %s\n", v)
	return nil
}
