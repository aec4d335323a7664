package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/flexidp/flexidp/internal/accounts"
)

// openService opens the admin store and the account service over it, for
// a command that changes something: every rule (and the audit record with
// the actor) is the service's, the command only parses and prints. With
// mail, password links are emailed when IDP_SMTP_* is set. The caller
// closes the store.
func openService(ctx context.Context, env *environment, dbURL string, mail bool) (*accounts.Service, migrator, error) {
	policy, err := passwordPolicy(env)
	if err != nil {
		return nil, nil, err
	}
	secrets, err := directorySealer(env.getenv("IDP_KEY_ENCRYPTION_KEY"))
	if err != nil {
		return nil, nil, err
	}
	cfg := accounts.Config{Log: cliAuditLog(env), Passwords: policy, Secrets: secrets}
	if mail {
		m, err := mailerFromEnv(env)
		if err != nil {
			return nil, nil, err
		}
		if m != nil {
			cfg.Mailer = m
		}
	}
	st, err := openAdminStore(ctx, env, dbURL)
	if err != nil {
		return nil, nil, err
	}
	cfg.Store = st
	return accounts.New(cfg), st, nil
}

// admin is the actor of a CLI change (see who).
func (e *environment) admin() accounts.Actor { return accounts.Actor{Name: e.who()} }

// cliAuditLog is where the CLI writes each audit event as a structured
// line (--log-format, IDP_LOG_FORMAT, IDP_LOG_LEVEL), like the server's,
// for log pipelines that collect CLI runs too. A person at a terminal
// reads the command's one-line result instead; the record stays in the
// store (idp audit tail).
func cliAuditLog(env *environment) *slog.Logger {
	format := orDefault(env.logFormat, envOr(env, "IDP_LOG_FORMAT", "auto"))
	if format == "auto" && isTerminal(env.stderr) {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log, err := newLogger(env, format, envOr(env, "IDP_LOG_LEVEL", "info"))
	if err != nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return log
}
