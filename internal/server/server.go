// Package server is flexidp's HTTP layer: the chi router, the SAML
// endpoints, the login form, sessions, CSRF protection, rendering, and the
// one place where errors become HTTP statuses and sentences.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
	"github.com/flexidp/flexidp/web"
)

// Defaults suited to an agent's shift.
const (
	DefaultSessionLifetime = 10 * time.Hour
	DefaultSessionIdle     = 2 * time.Hour
	// maxFormBytes bounds every request body; a SAMLRequest is a few KiB.
	maxFormBytes = 256 << 10
)

// Config configures the HTTP layer.
type Config struct {
	// BaseURL is the external URL of flexidp (https in production).
	BaseURL *url.URL
	// Dev shows the development banner on every page.
	Dev bool
	// DevData is shown in the banner (where the data lives).
	DevData string
	// SessionLifetime and SessionIdle bound IdP sessions.
	SessionLifetime time.Duration
	SessionIdle     time.Duration
	// TrustProxy takes the client address from X-Forwarded-For, as
	// written by the proxies in TrustedProxies (see clientAddr).
	TrustProxy bool
	// TrustedProxies are the addresses of the proxies in front of
	// flexidp; setting them implies TrustProxy. With TrustProxy and none
	// listed, the peer is trusted if its address is loopback or private,
	// for one hop.
	TrustedProxies []netip.Prefix
	// Accounts applies the rules of sign-in, passwords and the audit
	// trail; nil means a service on the store with the server's hasher,
	// clock and logger and the default lockout policy.
	Accounts *accounts.Service
	// MFASealer encrypts TOTP secrets at rest; nil stores them in the
	// clear (anyone who reads the database can then compute codes).
	MFASealer Sealer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Metrics, if set, are updated. They are served at /metrics only
	// with a MetricsToken, and then behind it; the public listener shows
	// no metrics otherwise. MetricsSeparate keeps them off this handler
	// whatever the token (the caller serves them on an internal listener).
	Metrics         *Metrics
	MetricsToken    string
	MetricsSeparate bool
	// Branding is the organisation's name, logo, accent colour and
	// support line; the zero value shows flexidp's own.
	Branding Branding
	// KeySealer seals the private keys the console's Keys page generates
	// (the key-encryption key, as for idp keys add). KeyLoader, when set,
	// reloads this process's signing keys as soon as the console changes
	// them (other replicas within their refresh interval); with keys read
	// from files (not FromStore) the Keys page changes nothing.
	KeySealer *keys.Sealer
	KeyLoader *keys.Loader
	// ConsoleSeparate serves the admin console only on ConsoleHandler
	// (its own listener, IDP_ADMIN_LISTEN); Handler then answers 404
	// under /admin.
	ConsoleSeparate bool
	// Provisioning, if set, returns the handlers to mount by path prefix
	// (the SCIM server and the admin API, internal/scim), given the
	// server's rule for a request's client address. They get the request
	// IDs, metrics, recovery, headers and body limit of every route, and
	// authenticate with API tokens, not sessions.
	Provisioning func(clientAddr func(*http.Request) string) map[string]http.Handler
}

var errNoPage = refusal(http.StatusNotFound, "error.no_page", "")

// Server serves flexidp's HTTP endpoints.
type Server struct {
	cfg   Config
	store store.Store
	idp   *saml.IdP
	acct  *accounts.Service
	log   *slog.Logger
	pages pageSet
	// posts are the auto-POST pages, precompiled (autopost.go).
	posts  postPages
	secure bool
	// stateKeys MACs the login state carried through the login forms.
	stateKeys stateKeys
	// sps keeps the service providers read, checked at each Response's
	// commit.
	sps spCache
	// sessions keeps the sessions read for SSO, checked at each Response's
	// commit (sessionCache).
	sessions sessionCache
	// imports are the console's checked users files and running imports.
	imports *importJobs
}

// New returns a Server.
func New(cfg Config, st store.Store, idp *saml.IdP, hasher *users.Hasher, log *slog.Logger) (*Server, error) {
	if cfg.BaseURL == nil {
		return nil, fmt.Errorf("server: BaseURL is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.Accounts == nil {
		cfg.Accounts = accounts.New(accounts.Config{Store: st, Hasher: hasher, Now: cfg.Now, Log: log, BaseURL: cfg.BaseURL})
	}
	if err := cfg.Branding.Validate(); err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		store:   st,
		idp:     idp,
		acct:    cfg.Accounts,
		log:     log,
		pages:   pages,
		secure:  cfg.BaseURL.Scheme == "https",
		imports: newImportJobs(cfg.Now),
	}
	s.posts = s.precompilePosts()
	return s, nil
}

// Handler returns the router.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	s.frame(r)
	r.Get("/healthz", s.healthz)
	if s.cfg.Provisioning != nil {
		for prefix, h := range s.cfg.Provisioning(s.clientIP) {
			r.Mount(prefix, h)
		}
	}
	r.Get("/readyz", s.readyz)
	if s.cfg.Metrics != nil && !s.cfg.MetricsSeparate && s.cfg.MetricsToken != "" {
		r.Handle("/metrics", s.cfg.Metrics.Protected(s.cfg.MetricsToken))
	}

	r.Get("/saml/metadata", s.metadata)
	r.Get("/saml/certificate.pem", s.certificate)
	// The SSO endpoint receives cross-site POSTs by design (HTTP-POST
	// binding); it changes nothing before the user signs in.
	r.Get("/saml/sso", s.sso)
	r.Post("/saml/sso", s.sso)
	// Single logout: LogoutRequests arrive cross-site too, and are tied to
	// the browser's session by their SessionIndex.
	r.Get("/saml/slo", s.slo)
	r.Post("/saml/slo", s.slo)

	r.Group(func(r chi.Router) {
		r.Use(s.crossOrigin)
		r.Get("/", s.home)
		r.Get("/login", s.loginPage)
		s.signInRoutes(r)
		r.Get("/mfa/setup", s.mfaSetupPage)
		r.Get("/password", s.passwordPage)
		r.Post("/password", s.setPassword)
		r.Get("/password/forgot", s.forgotPage)
		r.Post("/password/forgot", s.forgot)
		r.Get("/launcher", s.launcher)
		r.Get("/account", s.account)
		r.Post("/account/password", s.changePassword)
		r.Post("/account/recovery-codes", s.newRecoveryCodes)
		r.Post("/account/sessions/revoke", s.signOutOthers)
		r.Post("/account/passkeys/new", s.addPasskey)
		r.Post("/account/passkeys/remove", s.removePasskey)
		r.Get("/sso/idp/{sp}", s.idpInitiated)
		r.Post("/sso/idp/{sp}", s.idpInitiated)
		r.Get("/logout", s.logoutPage)
	})
	if !s.cfg.ConsoleSeparate {
		r.Route(consolePrefix, s.consoleRoutes)
	}
	return r
}

// signInRoutes are the forms of a sign-in (password, code, passkey,
// enrolment of either, the recovery codes' continue) and the sign-out: the public pages' and the
// admin console's (whose state says Console) are the same handlers.
func (s *Server) signInRoutes(r chi.Router) {
	r.Post("/login", s.login)
	r.Post("/login/oidc", s.loginOIDC)
	r.Get("/login/oidc/callback", s.oidcCallback)
	r.Post("/login/mfa", s.loginMFA)
	r.Post("/login/passkey", s.loginPasskey)
	r.Post("/passkey/setup", s.passkeySetup)
	r.Post("/mfa/setup", s.mfaSetup)
	r.Post("/mfa/continue", s.mfaContinue)
	r.Post("/logout", s.logout)
}

// frame sets what every listener's router has: the middleware, the
// static files and branding, and the error pages.
func (s *Server) frame(r chi.Router) {
	r.Use(s.requestID, s.cfg.Metrics.observe, s.recoverer, s.securityHeaders, s.limitBody, s.answerInTime, s.language)
	r.Handle("/static/*", s.static())
	r.Get("/branding.css", s.brandingCSS)
	r.Get("/branding/logo", s.brandingLogo)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { s.fail(w, r, errNoPage) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &Error{Status: http.StatusMethodNotAllowed, Message: i18n.M("error.method", "method", logMethod(r.Method))})
	})
}

// static serves the embedded files under /static/, and a 404 for
// anything that is not a file: http.FileServer would list a directory.
func (s *Server) static() http.Handler {
	files, _ := fs.Sub(web.Static, "static")
	serve := http.StripPrefix("/static/", http.FileServer(http.FS(files)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if fi, err := fs.Stat(files, name); err != nil || fi.IsDir() {
			s.fail(w, r, errNoPage)
			return
		}
		serve.ServeHTTP(w, r)
	})
}

func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

type ctxKey int

const requestIDKey ctxKey = iota

func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		var h [16]byte
		hex.Encode(h[:], b[:])
		id := string(h[:])
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := time.Now()
		next.ServeHTTP(ww, r.WithContext(ctx))
		s.log.LogAttrs(ctx, logLevel(ww.Status()), "http request",
			slog.String("request_id", id), slog.String("method", logMethod(r.Method)), slog.String("path", truncate(r.URL.Path, maxLoggedPath)),
			slog.Int("status", ww.Status()), slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
	})
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.fail(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets a strict policy on every response; pages that post
// a Response widen form-action to the one ACS URL (see renderPost).
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", selfCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// selfCSP is the policy of every answer but the auto-POST pages.
var selfCSP = csp("'self'")

func csp(formAction string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action " + formAction +
		"; frame-ancestors 'none'; base-uri 'none'"
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxFormBytes)
		if r.Method == http.MethodPost && isImportUpload(r) {
			limit = maxImportUpload + maxFormBytes // the file, and the form around it
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses cross-site state-changing requests using the Fetch
// metadata the browser sends (net/http CrossOriginProtection); the CSRF
// token on each form covers browsers that send none.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errCSRF)
	}))
	return cop.Handler(next)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness: store unreachable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("store unreachable\n"))
		return
	}
	if s.idp.Keys() == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("no signing key\n"))
		return
	}
	// A directory that is down does not make flexidp unready (local
	// accounts and other sources still sign in): it is detail, and a
	// metric. The cause goes to the log only.
	health, err := s.acct.DirectoryStatus(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "readiness: list directories", "err", err)
	}
	_, _ = w.Write([]byte("ready\n"))
	for _, h := range health {
		s.cfg.Metrics.directory(h.Name, h.Err == nil)
		state := "ok"
		if h.Err != nil {
			state = "unreachable"
			s.log.WarnContext(ctx, "readiness: directory unreachable", "directory", h.Name, "err", h.Err)
		}
		_, _ = fmt.Fprintf(w, "directory %s: %s\n", h.Name, state)
	}
}
