package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// MaxBodyBytes bounds a request body: a user with every attribute, or a
// PATCH of a thousand group members, is far below it.
const MaxBodyBytes = 1 << 20

// Config configures the SCIM server and the admin API.
type Config struct {
	// Accounts applies every rule; the handlers only translate.
	Accounts *accounts.Service
	// BaseURL is flexidp's external URL; resources' meta.location are
	// under BaseURL/scim/v2.
	BaseURL *url.URL
	// ClientAddr returns the client address of a request (the server's
	// rule for trusted proxies); nil takes the peer's.
	ClientAddr func(*http.Request) string
	// Log receives internal errors; nil discards.
	Log *slog.Logger
}

// Handler serves /scim/v2 and /api/v1.
type Handler struct {
	cfg  Config
	acct *accounts.Service
	log  *slog.Logger
}

// New returns a Handler.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, acct: cfg.Accounts, log: cfg.Log}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.ClientAddr == nil {
		h.cfg.ClientAddr = func(r *http.Request) string {
			host, _, err := netSplit(r.RemoteAddr)
			if err != nil {
				return r.RemoteAddr
			}
			return host
		}
	}
	return h
}

// SCIMPrefix and APIPrefix are where the server mounts the two handlers.
const (
	SCIMPrefix = "/scim/v2"
	APIPrefix  = "/api/v1"
)

// SCIM returns the SCIM 2.0 router, to be mounted at SCIMPrefix. Every
// endpoint needs a token with the scim scope.
func (h *Handler) SCIM() http.Handler {
	r := chi.NewRouter()
	r.Use(h.recoverWith(writeSCIMError), h.limit, h.authenticate(writeSCIMError, accounts.ScopeSCIM))
	r.Get("/ServiceProviderConfig", h.serviceProviderConfig)
	r.Get("/ResourceTypes", h.resourceTypes)
	r.Get("/ResourceTypes/{name}", h.resourceType)
	r.Get("/Schemas", h.schemas)
	r.Get("/Schemas/{urn}", h.schema)
	r.Get("/Users", h.listUsers)
	r.Post("/Users", h.createUser)
	r.Post("/Users/.search", h.searchUsers)
	r.Get("/Users/{id}", h.getUser)
	r.Put("/Users/{id}", h.replaceUser)
	r.Patch("/Users/{id}", h.patchUser)
	r.Delete("/Users/{id}", h.deleteUser)
	h.groupRoutes(r)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeSCIMError(w, &Error{Status: http.StatusNotFound, Detail: "There is no SCIM endpoint at this address."})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeSCIMError(w, &Error{Status: http.StatusMethodNotAllowed, Detail: "This endpoint does not accept this method."})
	})
	return r
}

func netSplit(addr string) (string, string, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", errors.New("no port")
	}
	return strings.Trim(addr[:i], "[]"), addr[i+1:], nil
}

// Error is a SCIM error response (RFC 7644 section 3.12).
type Error struct {
	Status int
	// Type is the scimType ("invalidFilter", "uniqueness", ...); "" for
	// none.
	Type   string
	Detail string
}

func (e *Error) Error() string { return e.Detail }

func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Schemas []string `json:"schemas"`
		Status  string   `json:"status"`
		Type    string   `json:"scimType,omitempty"`
		Detail  string   `json:"detail,omitempty"`
	}{[]string{schemaError}, strconv.Itoa(e.Status), e.Type, e.Detail})
}

// statusOf is the one map from the service's error codes to HTTP status.
var statusOf = map[accounts.Code]int{
	accounts.Invalid:      http.StatusBadRequest,
	accounts.NotFound:     http.StatusNotFound,
	accounts.Conflict:     http.StatusConflict,
	accounts.Unavailable:  http.StatusServiceUnavailable,
	accounts.Unauthorized: http.StatusUnauthorized,
	accounts.Forbidden:    http.StatusForbidden,
}

// scimTypeOf is the scimType of each code (RFC 7644 table 9).
var scimTypeOf = map[accounts.Code]string{accounts.Invalid: "invalidValue", accounts.Conflict: "uniqueness"}

// problem turns any error into what a client is told: a service error's
// sentence, a throttle's wait, or "Internal error." (the detail goes to
// the log).
func (h *Handler) problem(ctx context.Context, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var fe *filterError
	if errors.As(err, &fe) {
		return &Error{Status: http.StatusBadRequest, Type: "invalidFilter", Detail: fe.msg}
	}
	var th *accounts.ThrottledError
	if errors.As(err, &th) {
		return &Error{Status: http.StatusTooManyRequests, Detail: fmt.Sprintf("Too many failed attempts; try again in %d seconds.", int(math.Ceil(th.Wait.Seconds())))}
	}
	if code := accounts.ErrorCode(err); code != "" {
		var ae *accounts.Error
		msg := err.Error()
		if errors.As(err, &ae) {
			msg = ae.Message
		}
		return &Error{Status: statusOf[code], Type: scimTypeOf[code], Detail: msg}
	}
	if errors.Is(err, users.ErrBusy) {
		return &Error{Status: http.StatusServiceUnavailable, Detail: "flexidp is busy; try again in a few seconds."}
	}
	h.log.ErrorContext(ctx, "scim: internal error", "err", err)
	return &Error{Status: http.StatusInternalServerError, Detail: "Internal error."}
}

func writeSCIMError(w http.ResponseWriter, e *Error) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="flexidp"`)
	}
	writeJSON(w, "application/scim+json", e.Status, e)
}

func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"schemas":["`+schemaError+`"],"status":"500","detail":"Internal error."}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeSCIMError(w, h.problem(r.Context(), err))
}

// recoverWith turns a panic into an internal error written by write (a
// SCIM or a JSON error); the detail goes to the log.
func (h *Handler) recoverWith(write func(http.ResponseWriter, *Error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					write(w, h.problem(r.Context(), fmt.Errorf("panic: %v", v)))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

func (h *Handler) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

type tokenKey struct{}

// authenticate admits requests with a valid bearer token that has scope
// (scope "" only authenticates: the route checks its own scope).
func (h *Handler) authenticate(write func(http.ResponseWriter, *Error), scope accounts.Scope) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				bearer = ""
			}
			tok, err := h.acct.AuthenticateToken(r.Context(), strings.TrimSpace(bearer), h.cfg.ClientAddr(r))
			if err == nil && scope != "" {
				err = accounts.RequireScope(tok, scope)
			}
			if err != nil {
				e := h.problem(r.Context(), err)
				var th *accounts.ThrottledError
				if errors.As(err, &th) {
					w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(th.Wait.Seconds()))))
				}
				write(w, e)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok)))
		})
	}
}

// actor is who makes the request's changes: its token, from its address.
func (h *Handler) actor(r *http.Request) accounts.Actor {
	tok, _ := r.Context().Value(tokenKey{}).(store.APIToken)
	return accounts.TokenActor(tok, h.cfg.ClientAddr(r))
}

// decode reads a JSON body into v.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("The request body is larger than %d bytes.", tooBig.Limit)}
	} else if err != nil {
		return &Error{Status: http.StatusBadRequest, Type: "invalidSyntax", Detail: "The request body could not be read."}
	}
	if err := json.Unmarshal(body, v); err != nil {
		detail := "The request body is not valid JSON."
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			detail = fmt.Sprintf("%s must be a %s, not a %s.", orRoot(te.Field), jsonKind(te.Type.Kind().String()), te.Value)
			return &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: detail}
		case errors.As(err, &se):
		default:
			// A value that a field's own decoder refused (a boolean, a
			// typed Flex attribute): its message says which.
			return &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: "Invalid value: " + err.Error()}
		}
		return &Error{Status: http.StatusBadRequest, Type: "invalidSyntax", Detail: detail}
	}
	return nil
}

func orRoot(field string) string {
	if field == "" {
		return "The body"
	}
	return field
}

func jsonKind(k string) string {
	switch k {
	case "slice":
		return "list"
	case "map", "struct":
		return "object"
	case "bool":
		return "boolean"
	}
	return k
}

// base is the URL of an endpoint ("Users") as clients reach it.
func (h *Handler) base(endpoint string) string {
	b := ""
	if h.cfg.BaseURL != nil {
		b = strings.TrimSuffix(h.cfg.BaseURL.String(), "/")
	}
	return b + SCIMPrefix + "/" + endpoint
}

// listResponse is a SCIM ListResponse.
type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}

// Paging defaults (RFC 7644 3.4.2.4).
const (
	defaultCount = 100
	maxCount     = 1000
)

// listQuery is what a list or .search asks for.
type listQuery struct {
	Filter             string `json:"filter"`
	StartIndex         int    `json:"startIndex"`
	Count              *int   `json:"count"`
	Attributes         []string
	ExcludedAttributes []string
	SortBy             string `json:"sortBy"`
}

func queryOf(r *http.Request) (listQuery, error) {
	q := r.URL.Query()
	lq := listQuery{Filter: q.Get("filter"), StartIndex: 1}
	if s := q.Get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return lq, &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: "startIndex must be a whole number."}
		}
		lq.StartIndex = n
	}
	if s := q.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return lq, &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: "count must be a whole number."}
		}
		lq.Count = &n
	}
	lq.Attributes, lq.ExcludedAttributes = splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes"))
	return lq, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// page returns startIndex (at least 1) and count (0 to maxCount).
func (q listQuery) page() (start, count int) {
	start, count = max(q.StartIndex, 1), defaultCount
	if q.Count != nil {
		count = min(max(*q.Count, 0), maxCount)
	}
	return start, count
}

// project applies attributes= and excludedAttributes= to a resource's
// JSON form (top-level attributes and extension URNs; id and schemas are
// always returned, RFC 7643 7).
func project(res any, attrs, excluded []string) (any, error) {
	if len(attrs) == 0 && len(excluded) == 0 {
		return res, nil
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	name := func(a string) string {
		if strings.HasPrefix(strings.ToLower(a), "urn:") {
			for k := range m {
				if strings.EqualFold(k, a) {
					return k
				}
			}
			if i := strings.LastIndexByte(a, ':'); i > 0 {
				a = a[i+1:]
			}
		}
		a, _, _ = strings.Cut(a, ".")
		return strings.ToLower(a)
	}
	if len(attrs) > 0 {
		keep := map[string]bool{"id": true, "schemas": true}
		for _, a := range attrs {
			keep[strings.ToLower(name(a))] = true
		}
		for k := range m {
			if !keep[strings.ToLower(k)] {
				delete(m, k)
			}
		}
	}
	for _, a := range excluded {
		n := strings.ToLower(name(a))
		for k := range m {
			if strings.ToLower(k) == n && n != "id" && n != "schemas" {
				delete(m, k)
			}
		}
	}
	return m, nil
}

func writeResource(w http.ResponseWriter, status int, location, ver string, v any) {
	if location != "" && status == http.StatusCreated {
		w.Header().Set("Location", location)
	}
	if ver != "" {
		w.Header().Set("ETag", ver)
	}
	writeJSON(w, "application/scim+json", status, v)
}

// Mounts returns the SCIM server and the admin API by the path prefix
// they are served under (server.Config.Provisioning).
func (h *Handler) Mounts() map[string]http.Handler {
	return map[string]http.Handler{SCIMPrefix: h.SCIM(), APIPrefix: h.API()}
}
