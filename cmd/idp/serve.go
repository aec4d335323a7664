package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/scim"
	"github.com/flexidp/flexidp/internal/server"
	"github.com/flexidp/flexidp/internal/store/postgres"
	"github.com/flexidp/flexidp/internal/users"
)

// serveOptions is the configuration of a running IdP, from flags and
// environment (see README.md, "Configuration").
type serveOptions struct {
	baseURL         string
	listen          string
	databaseURL     string
	keyFile         string
	certFile        string
	keyEncryption   string
	migrate         bool
	logFormat       string
	logLevel        string
	sessionLifetime time.Duration
	sessionIdle     time.Duration
	trustProxy      bool
	trustedProxies  string
	hashMemoryMiB   int
	hashMaxWait     time.Duration
	signinFloor     string
	shutdownTimeout time.Duration
	keyRefresh      time.Duration
	hardening       hardeningOptions
	branding        brandingOptions
	metricsListen   string
	adminListen     string
	metricsToken    string
	pprof           bool

	dev     bool
	devData string
	// listener, if set, is already bound to listen (idp dev binds before
	// it prints its banner).
	listener net.Listener
	// ready, if set, receives the listening address once the server
	// accepts connections (tests).
	ready func(addr string)
}

func (o *serveOptions) register(env *environment, fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	IntVar(*int, string, int, string)
}) {
	fs.StringVar(&o.baseURL, "base-url", envOr(env, "IDP_BASE_URL", o.baseURL), "external URL of flexidp, https in production (IDP_BASE_URL)")
	fs.StringVar(&o.listen, "listen", envOr(env, "IDP_LISTEN", o.listen), "address to listen on (IDP_LISTEN)")
	fs.StringVar(&o.keyFile, "signing-key-file", envOr(env, "IDP_SIGNING_KEY_FILE", ""), "PEM RSA private key to sign with instead of the stored key (IDP_SIGNING_KEY_FILE)")
	fs.StringVar(&o.certFile, "signing-cert-file", envOr(env, "IDP_SIGNING_CERT_FILE", ""), "PEM certificate of --signing-key-file (IDP_SIGNING_CERT_FILE)")
	fs.StringVar(&o.keyEncryption, "key-encryption-key", envOr(env, "IDP_KEY_ENCRYPTION_KEY", ""), "secret that encrypts private keys at rest (IDP_KEY_ENCRYPTION_KEY; prefer the environment)")
	fs.StringVar(&o.logFormat, "log-format", envOr(env, "IDP_LOG_FORMAT", "auto"), "json, text, or auto (text on a terminal) (IDP_LOG_FORMAT)")
	fs.StringVar(&o.logLevel, "log-level", envOr(env, "IDP_LOG_LEVEL", "info"), "debug, info, warn or error (IDP_LOG_LEVEL)")
	fs.DurationVar(&o.sessionLifetime, "session-lifetime", envDuration(env, "IDP_SESSION_LIFETIME", server.DefaultSessionLifetime), "absolute IdP session lifetime (IDP_SESSION_LIFETIME)")
	fs.DurationVar(&o.sessionIdle, "session-idle", envDuration(env, "IDP_SESSION_IDLE", server.DefaultSessionIdle), "IdP session idle timeout (IDP_SESSION_IDLE)")
	fs.BoolVar(&o.trustProxy, "trust-proxy", envBool(env, "IDP_TRUST_PROXY", false), "take the client address from X-Forwarded-For, as appended by a proxy at a loopback or private address (one hop) or by --trusted-proxies (IDP_TRUST_PROXY)")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", envOr(env, "IDP_TRUSTED_PROXIES", ""), "addresses and CIDR ranges of the proxies in front of flexidp, comma-separated; implies --trust-proxy (IDP_TRUSTED_PROXIES)")
	fs.IntVar(&o.hashMemoryMiB, "hash-memory", envInt(env, "IDP_HASH_MEMORY_MIB", 256), "memory budget in MiB for concurrent password hashing; sign-ins beyond it queue (IDP_HASH_MEMORY_MIB)")
	fs.BoolVar(&o.pprof, "pprof", envBool(env, "IDP_PPROF", false), "also serve /debug/pprof on the metrics listener (needs --metrics-listen) (IDP_PPROF)")
	fs.StringVar(&o.metricsListen, "metrics-listen", envOr(env, "IDP_METRICS_LISTEN", ""), "serve /metrics on this (internal) address; without it or a token, /metrics is not served (IDP_METRICS_LISTEN)")
	fs.StringVar(&o.adminListen, "admin-listen", envOr(env, "IDP_ADMIN_LISTEN", ""), "serve the admin console (/admin) only on this (internal) address; without it the console is at /admin on the main listener (IDP_ADMIN_LISTEN)")
	fs.StringVar(&o.metricsToken, "metrics-token", envOr(env, "IDP_METRICS_TOKEN", ""), "bearer token /metrics requires; with it and no --metrics-listen, /metrics is served on the main listener (IDP_METRICS_TOKEN; prefer the environment)")
	fs.DurationVar(&o.hashMaxWait, "hash-max-wait", envDuration(env, "IDP_HASH_MAX_WAIT", 20*time.Second), "longest a sign-in queues for a hashing slot before a 503 'try again' (IDP_HASH_MAX_WAIT); a sign-in also waits only while its hashing can end within a third of the 30s write timeout, and is told at once when the queue ahead will not be served by then")
	fs.StringVar(&o.signinFloor, "signin-time-floor", envOr(env, "IDP_SIGNIN_TIME_FLOOR", "auto"), "least time a password check takes, so that it does not tell kinds of stored hash (imported bcrypt, argon2) or unknown emails apart: auto (measured at start for the slowest hash imports allow), a duration, or 0 for none (IDP_SIGNIN_TIME_FLOOR)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", envDuration(env, "IDP_SHUTDOWN_TIMEOUT", 20*time.Second), "how long SIGTERM waits for in-flight requests (IDP_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&o.keyRefresh, "key-refresh", envDuration(env, "IDP_KEY_REFRESH", 30*time.Second), "how often signing keys are reloaded from the store, to pick up a rotation (IDP_KEY_REFRESH)")
	o.hardening.register(env, fs)
	o.branding.register(env, fs)
}

func runServe(ctx context.Context, env *environment, args []string) error {
	o := serveOptions{listen: ":8080"}
	fs := newFlags(env, "idp serve", "[flags]", "Run the identity provider. The database comes from IDP_DATABASE_URL:\npostgres://… for PostgreSQL (production, replicas) or sqlite:///path for a single node.")
	o.register(env, fs)
	fs.StringVar(&o.databaseURL, "database-url", envOr(env, "IDP_DATABASE_URL", ""), "postgres://… or sqlite:///path (IDP_DATABASE_URL)")
	fs.BoolVar(&o.migrate, "migrate", envBool(env, "IDP_AUTO_MIGRATE", true), "apply database migrations at start (IDP_AUTO_MIGRATE)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	return serve(ctx, env, o)
}

// serve validates the configuration, opens the store, loads the signing
// key and runs the HTTP server until ctx is done, then drains.
func serve(ctx context.Context, env *environment, o serveOptions) error {
	if o.listener != nil {
		defer o.listener.Close() // on an early return; a no-op after Shutdown
	}
	log, err := newLogger(env, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	base, err := parseBaseURL(o.baseURL)
	if err != nil {
		return err
	}
	branding, err := o.branding.load()
	if err != nil {
		return err
	}
	if o.keyRefresh <= 0 {
		return fmt.Errorf("the key refresh interval must be positive, not %s (IDP_KEY_REFRESH)", o.keyRefresh)
	}
	if o.metricsToken != "" && len(o.metricsToken) < server.MinMetricsToken {
		return fmt.Errorf("the metrics token is too short: use at least %d characters, e.g. openssl rand -hex 32 (IDP_METRICS_TOKEN)", server.MinMetricsToken)
	}
	proxies, err := server.ParseTrustedProxies(o.trustedProxies)
	if err != nil {
		return fmt.Errorf("trusted proxies (IDP_TRUSTED_PROXIES): %w", err)
	}
	sealer, err := keys.NewSealer(o.keyEncryption)
	if err != nil {
		return err
	}
	keyCfg := keys.LoaderConfig{Sealer: sealer, KeyFile: o.keyFile, CertFile: o.certFile, Log: log}
	if err := keyCfg.Check(); err != nil {
		return err
	}
	st, err := openStore(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if o.migrate {
		applied, err := st.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if len(applied) > 0 {
			log.Info("migrations applied", "versions", applied)
		}
	}

	ep := endpointsFor(base)
	idp, err := saml.New(saml.Config{EntityID: ep.entityID, SSOURL: ep.sso, SLOURL: ep.slo, SecureTransport: base.Scheme == "https"})
	if err != nil {
		return err
	}
	keyCfg.Store, keyCfg.CommonName = st, ep.entityID
	loader, err := keys.Load(ctx, keyCfg, idp)
	if err != nil {
		return err
	}
	if !sealer.Encrypts() && loader.FromStore() && !o.dev {
		log.Warn("private keys are stored unencrypted in the database; set IDP_KEY_ENCRYPTION_KEY")
	}

	mfaRoles, mfaSealer, err := o.hardening.mfa(log, o.keyEncryption, o.dev)
	if err != nil {
		return err
	}
	hasher := users.NewHasher(users.DefaultParams, defaultHashConcurrency(o.hashMemoryMiB, int(users.DefaultParams.Memory/1024)))
	hasher.SetMaxWait(o.hashMaxWait)
	// After a burst of sign-ins, and once the sign-in time floor is
	// measured, the hashes' memory goes back to the system once hashing
	// is idle (memoryReturner).
	returner := newMemoryReturner(hasher)
	if err := startSigninFloor(ctx, log, hasher, o.signinFloor, returner.checkNow); err != nil {
		return err
	}
	// The rule for new passwords (the password-link page) is the service's.
	policy, err := passwordPolicy(env)
	if err != nil {
		return err
	}
	tuneGC(env, log, o.hashMemoryMiB)
	if env.getenv("GOGC") == "" {
		defer startGCFloor(gcFloorBytes)()
	}
	memTicker := time.NewTicker(5 * time.Second)
	defer memTicker.Stop()
	go returner.run(ctx, memTicker.C)
	metrics := server.NewMetrics(hasher, poolStats(st))
	// The forgot-password page emails reset links when IDP_SMTP_* is set.
	secrets, err := directorySealer(o.keyEncryption)
	if err != nil {
		return err
	}
	acfg := accounts.Config{Store: st, Hasher: hasher, Log: log, Lockout: o.hardening.lockout, Passwords: policy, BaseURL: base,
		MFARequiredRoles: mfaRoles, PasskeyRequiredRoles: o.hardening.passkeys(), Secrets: secrets}
	m, err := mailerFromEnv(env)
	if err != nil {
		return err
	}
	if m != nil {
		acfg.Mailer = m // never a nil *mailer in the interface
	}
	svc := accounts.New(acfg)
	if len(acfg.PasskeyRequiredRoles) > 0 && !svc.PasskeysAvailable() {
		return fmt.Errorf("IDP_PASSKEY_REQUIRED_ROLES needs passkeys, and passkeys need IDP_BASE_URL to name a host, not an IP address (%s)", base)
	}
	// The CLI prints links and Console values with the base URL the server
	// runs with (baseURLFor).
	if err := svc.RecordBaseURL(ctx, base.String()); err != nil {
		log.Warn("record the base URL for the CLI", "err", err)
	}
	srv, err := server.New(server.Config{
		BaseURL: base, Dev: o.dev, DevData: o.devData,
		SessionLifetime: o.sessionLifetime, SessionIdle: o.sessionIdle, TrustProxy: o.trustProxy, TrustedProxies: proxies,
		Accounts: svc, MFASealer: mfaSealer,
		Metrics: metrics, MetricsToken: o.metricsToken, MetricsSeparate: o.metricsListen != "",
		Branding: branding, ConsoleSeparate: o.adminListen != "",
		KeySealer: sealer, KeyLoader: loader,
		Provisioning: func(addr func(*http.Request) string) map[string]http.Handler {
			return scim.New(scim.Config{Accounts: svc, BaseURL: base, ClientAddr: addr, Log: log}).Mounts()
		},
	}, st, idp, hasher, log)
	if err != nil {
		return err
	}

	ln := o.listener
	if ln == nil {
		if ln, err = listen(o.listen); err != nil {
			return err
		}
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The console's own listener is bound before either serves (ready
	// means both are), and drains with the main one (below).
	var as *http.Server
	var aln net.Listener
	if o.adminListen != "" {
		if aln, err = listen(o.adminListen); err != nil {
			ln.Close()
			return fmt.Errorf("admin console: %w", err)
		}
		defer aln.Close() // on an early return; a no-op after Shutdown
		as = &http.Server{Handler: srv.ConsoleHandler(), ReadHeaderTimeout: hs.ReadHeaderTimeout, ReadTimeout: hs.ReadTimeout,
			WriteTimeout: hs.WriteTimeout, IdleTimeout: hs.IdleTimeout, MaxHeaderBytes: hs.MaxHeaderBytes, ErrorLog: hs.ErrorLog}
		log.Info("admin console listening", "addr", aln.Addr().String(), "path", "/admin")
	} else {
		log.Info("admin console served at /admin on the main listener; set IDP_ADMIN_LISTEN to keep it on an internal address")
	}
	// What starting allocated and dropped (migrations, the key, the
	// default language's pages, the store's first reads) goes back to the
	// system now, not at the first hash: an idle server holds only what it
	// keeps.
	debug.FreeOSMemory()
	log.Info("flexidp listening", "addr", ln.Addr().String(), "base_url", base.String(), "entity_id", ep.entityID,
		"hash_concurrency", hasher.Concurrency(), "client_address", clientAddressSource(o.trustProxy, proxies))
	if o.ready != nil {
		o.ready(ln.Addr().String())
	}

	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go housekeeping(bg, log, svc, loader, o.keyRefresh)

	errc := make(chan error, 3)
	go func() { errc <- hs.Serve(ln) }()
	if as != nil {
		go func() { errc <- as.Serve(aln) }()
	}
	if o.metricsListen != "" {
		mln, err := net.Listen("tcp", o.metricsListen)
		if err != nil {
			return fmt.Errorf("metrics: listen on %s: %w", o.metricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Protected(o.metricsToken))
		if o.pprof {
			// Profiling only on the separate (internal) metrics listener,
			// behind the metrics token when there is one.
			mux.Handle("GET /debug/pprof/", server.RequireToken(o.metricsToken, http.HandlerFunc(pprof.Index)))
			mux.Handle("GET /debug/pprof/profile", server.RequireToken(o.metricsToken, http.HandlerFunc(pprof.Profile)))
			mux.Handle("GET /debug/pprof/trace", server.RequireToken(o.metricsToken, http.HandlerFunc(pprof.Trace)))
		}
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		defer ms.Close()
		log.Info("metrics listening", "addr", mln.Addr().String(), "token_required", o.metricsToken != "")
		go func() { errc <- ms.Serve(mln) }()
	} else if o.metricsToken != "" {
		log.Info("metrics served at /metrics on the main listener, behind IDP_METRICS_TOKEN")
	} else {
		log.Info("metrics are not served: set IDP_METRICS_LISTEN (an internal address) or IDP_METRICS_TOKEN")
	}
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", o.shutdownTimeout.String())
	// Shutdown calls this once it has closed the listeners: from then on no
	// new connection is accepted, and only requests in flight are served.
	hs.RegisterOnShutdown(func() { log.Info("stopped accepting connections") })
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() {
		if as == nil {
			shut <- nil
			return
		}
		shut <- as.Shutdown(sctx)
	}()
	err = hs.Shutdown(sctx)
	if aerr := <-shut; err == nil && aerr != nil {
		err = fmt.Errorf("admin console: %w", aerr)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	svc.WaitMail() // reset links being emailed (each send is bounded)
	log.Info("shut down cleanly")
	return nil
}

// listen binds the main listener; a port in use says what to do.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listen on %s: the address is already in use (another idp dev or server?): stop it, or choose another address with --listen, e.g. --listen localhost:8081", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// housekeeping reloads keys (rotation done on another replica or by the
// CLI), sweeps expired sessions and stale throttle records, and every
// accounts.DirectorySyncInterval re-reads the directory users.
func housekeeping(ctx context.Context, log *slog.Logger, svc *accounts.Service, loader *keys.Loader, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var synced time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(synced) >= accounts.DirectorySyncInterval {
			// Leavers' sessions end without waiting for their next sign-in.
			synced = time.Now()
			sum, err := svc.SyncDirectories(ctx)
			if err != nil {
				log.Warn("directory sync", "err", err)
			}
			if sum.Disabled > 0 {
				log.Info("directory sync disabled users", "count", sum.Disabled, "checked", sum.Checked)
			}
		}
		if err := loader.Reload(ctx); err != nil {
			log.Warn("reload signing keys", "err", err)
		}
		swept, err := svc.Housekeeping(ctx)
		if err != nil {
			log.Warn("housekeeping", "err", err)
		}
		if swept.Sessions > 0 {
			log.Debug("expired sessions deleted", "count", swept.Sessions)
		}
	}
}

// gcFloorBytes is the heap a serving replica may reach before a
// collection when its live heap is small (gcFloor).
const gcFloorBytes = 32 << 20

// memoryHeadroomMiB is the memory allowed beyond the hashing budget for
// everything else (connections, templates, XML, the runtime).
const memoryHeadroomMiB = 128

// tuneGC sets the runtime's memory limit where the environment does not
// (GOMEMLIMIT). GOGC is left to gcFloor (where the environment does not
// set it): a fixed 300 was tried (fewer collections under SSO load) and
// doubled the RSS peak of a password burst, whose argon2id hashes are
// 19 MiB of garbage each (docs/performance.md).
func tuneGC(env *environment, log *slog.Logger, hashMemoryMiB int) {
	if env.getenv("GOMEMLIMIT") == "" {
		// Each argon2id hash allocates its memory afresh; without a limit
		// the heap can grow to twice the hashing budget between
		// collections. A soft limit keeps the process near the budget.
		limit := int64(hashMemoryMiB+memoryHeadroomMiB) << 20
		debug.SetMemoryLimit(limit)
		log.Debug("memory limit set", "mib", limit>>20)
	}
}

// poolStats exposes the PostgreSQL pool to the metrics; SQLite has none.
func poolStats(st migrator) func() server.PoolStats {
	pg, ok := st.(*postgres.Store)
	if !ok {
		return nil
	}
	return func() server.PoolStats {
		s := pg.Pool().Stat()
		return server.PoolStats{Acquired: int(s.AcquiredConns()), Idle: int(s.IdleConns()), Total: int(s.TotalConns()), Max: int(s.MaxConns())}
	}
}

func envInt(env *environment, name string, def int) int {
	var n int
	if _, err := fmt.Sscan(env.getenv(name), &n); err == nil && n > 0 {
		return n
	}
	return def
}

// startSigninFloor sets the hasher's time floor from --signin-time-floor:
// "auto" measures it in the background (sign-ins wait for it) and calls
// measured, if not nil, when that ends (its hashes' memory can go back
// to the system), else a duration.
func startSigninFloor(ctx context.Context, log *slog.Logger, h *users.Hasher, v string, measured func()) error {
	if strings.EqualFold(strings.TrimSpace(v), "auto") {
		h.CalibrateTimeFloorInBackground(ctx, 3, func(d time.Duration, err error) {
			if measured != nil {
				defer measured()
			}
			if err != nil {
				if ctx.Err() == nil {
					log.Error("sign-in time floor: calibration failed; sign-in time may tell kinds of stored hash apart", "err", err)
				}
				return
			}
			log.Info("sign-in time floor measured", "floor", d.Round(time.Millisecond).String())
		})
		return nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		return fmt.Errorf("the sign-in time floor %q is not auto, 0 or a duration such as 300ms (IDP_SIGNIN_TIME_FLOOR)", v)
	}
	h.SetTimeFloor(d)
	return nil
}

// clientAddressSource says, for the start-up log, where client addresses
// come from.
func clientAddressSource(trust bool, proxies []netip.Prefix) string {
	switch {
	case len(proxies) > 0:
		return fmt.Sprintf("X-Forwarded-For through the proxies %v", proxies)
	case trust:
		return "X-Forwarded-For, one hop, from a loopback or private peer"
	}
	return "the TCP peer"
}
