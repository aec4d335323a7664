package main

import (
	"context"
	"flag"

	"github.com/flexidp/flexidp/internal/accounts"
)

// withService opens the account service on dbURL (see openService), runs
// act with it and closes the store: every command that reads or changes
// something goes through the service, which holds the rules and records
// the change with its actor (env.admin()).
func withService(ctx context.Context, env *environment, dbURL string, act func(*accounts.Service) error) error {
	return withMailService(ctx, env, dbURL, false, act)
}

// withMailService is withService with password links emailed when mail
// is true and IDP_SMTP_* is set.
func withMailService(ctx context.Context, env *environment, dbURL string, mail bool, act func(*accounts.Service) error) error {
	svc, st, err := openService(ctx, env, dbURL, mail)
	if err != nil {
		return err
	}
	defer st.Close()
	return act(svc)
}

// onSP parses a command acting on the service provider named by --sp
// (with the extra flags it registers), opens the account service and runs
// act with the parsed flags.
func onSP(ctx context.Context, env *environment, name, usage, desc string, args []string, extra func(*flag.FlagSet),
	act func(svc *accounts.Service, fs *flag.FlagSet, spName string) error) error {
	fs, dbURL, spName, err := spCommand(env, name, usage, desc, args, extra)
	if err != nil {
		return err
	}
	return withService(ctx, env, dbURL, func(svc *accounts.Service) error { return act(svc, fs, spName) })
}
