package main

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// load drives virtual agents against one server (flexidp or the peer).
type load struct {
	ctx       context.Context
	t         *target
	sp        *crewjam.ServiceProvider
	acs       url.URL
	transport *http.Transport
	agents    []*agent

	// checks are the Responses of the sso phase, verified by crewjam's SP
	// once the phase is over (checkDeferred), so that verifying them does
	// not take the CPU the agents need to keep the server busy.
	checksMu sync.Mutex
	checks   []deferredCheck

	// ready are AuthnRequests built before an sso phase (prepareSSO), taken
	// in turn (next): building one (XML, DEFLATE, base64) takes the agents'
	// CPU, which they share with PostgreSQL, while the server waits.
	ready []builtRequest
	next  atomic.Int64
}

// builtRequest is an AuthnRequest ready to send: its HTTP-Redirect URL and
// its ID.
type builtRequest struct{ url, id string }

// deferredCheck is a Response received in the sso phase, to be verified
// as of the moment it arrived.
type deferredCheck struct {
	a     *agent
	body  string
	reqID string
	at    time.Time
}

// target is a server under test and how to read its costs.
type target struct {
	name     string
	base     string
	metadata string // the IdP metadata URL
	// pid is the server process, for CPU and RSS.
	pid int
	// login posts the login form in body (the server's own) with the
	// agent's email and the password, and returns the status and page.
	login func(l *load, a *agent, body string) (int, string, error)
	// memStats reads the server's cumulative allocations.
	memStats func() (mallocs, bytes float64, err error)
	// db reads the database's counters; nil when there is none to read.
	db *dbProbe
	// sharedAccount: every agent signs in as agent0@….
	sharedAccount bool
}

// agent is one virtual agent: a browser (cookie jar) and a user.
type agent struct {
	email string
	addr  string // the agent's own address, sent as X-Forwarded-For
	c     *http.Client
	// retryAfter is the Retry-After header of the last answer, "" for
	// none.
	retryAfter string
}

func newLoad(ctx context.Context, t *target) (*load, error) {
	l := &load{ctx: ctx, t: t, transport: &http.Transport{
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}}
	resp, err := http.Get(t.metadata)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var md crewjam.EntityDescriptor
	if err := xml.NewDecoder(resp.Body).Decode(&md); err != nil {
		return nil, fmt.Errorf("IdP metadata: %w", err)
	}
	acs, _ := url.Parse(flexACS)
	l.acs = *acs
	entityID := "urn:flex:" + acs.Query().Get("connection")
	// crewjam's SP plays Flex (Enhanced SSO), asking for no NameID format
	// like Auth0's request template.
	l.sp = &crewjam.ServiceProvider{EntityID: entityID, AcsURL: *acs, IDPMetadata: &md,
		AuthnNameIDFormat: crewjam.UnspecifiedNameIDFormat}
	return l, nil
}

// agent returns virtual agent n (user agent<n>@…, or agent0@… for every
// agent with --shared-account) with an empty browser and its own address.
func (l *load) newAgent(n int) *agent {
	jar, _ := cookiejar.New(nil)
	user := n
	if l.t.sharedAccount {
		user = 0
	}
	return &agent{email: fmt.Sprintf(emailPattern, user), addr: fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255), c: &http.Client{Jar: jar, Transport: l.transport, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// op is one measured operation of an agent; it returns the latency the
// agent waited for the server (the HTTP exchanges, not the agent's own
// verification).
type op func(a *agent) (time.Duration, error)

// passwordSignIn is a sign-in without a session: AuthnRequest, login
// form, password, Response. A "busy" answer (503) is an error.
func (l *load) passwordSignIn(a *agent) (time.Duration, error) {
	s := l.signIn(a, 0)
	return s.took, s.err
}

// signInOutcome is one sign-in as a person makes it: the time spent
// waiting for the server, the time spent waiting because it said "busy,
// try again in N seconds", and how many such answers came.
type signInOutcome struct {
	took   time.Duration // the HTTP exchanges
	waited time.Duration // the Retry-After waits honoured
	shed   int           // 503s with Retry-After tried again
	err    error         // also a 503 once retries are used up ("gave up")
}

// errGaveUp is a sign-in still told "busy" after its last retry.
var errGaveUp = errors.New("gave up")

// signIn is passwordSignIn as a person does it in a crowd: the login
// form answered 503 "busy, try again in N seconds" (with Retry-After and
// the form again) is submitted again after that wait, at most retries
// times. No answer, a closed connection, a timeout or any other status
// is an error at once.
func (l *load) signIn(a *agent, retries int) (out signInOutcome) {
	jar, _ := cookiejar.New(nil)
	a.c.Jar = jar // a new browser session: no IdP cookie
	redirect, reqID, err := l.authnRequest()
	if err != nil {
		return signInOutcome{err: err}
	}
	start := time.Now()
	status, body, err := a.get(l.ctx, redirect)
	out.took = time.Since(start)
	if err != nil {
		out.err = err
		return out
	}
	if status != http.StatusOK || !strings.Contains(body, `name="password"`) {
		out.err = fmt.Errorf("GET SSO: status %d, no login form", status)
		return out
	}
	for {
		start := time.Now()
		status, body, err = l.t.login(l, a, body)
		out.took += time.Since(start)
		if err != nil {
			out.err = err
			return out
		}
		if status != http.StatusServiceUnavailable || retries == 0 {
			break
		}
		wait, ok := retryWait(a.retryAfter)
		if !ok || !strings.Contains(body, `name="password"`) {
			out.err = fmt.Errorf("login: status 503 without Retry-After and the form (Retry-After %q)", a.retryAfter)
			return out
		}
		if out.shed == retries {
			out.err = fmt.Errorf("login: %w after %d busy answers (503), %s waited", errGaveUp, out.shed+1, out.waited.Round(time.Second))
			return out
		}
		out.shed++
		// People come back when told, not all in the same millisecond.
		wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
		select {
		case <-time.After(wait):
		case <-l.ctx.Done():
			out.err = l.ctx.Err()
			return out
		}
		out.waited += wait
	}
	if status != http.StatusOK {
		out.err = fmt.Errorf("login: status %d", status)
		return out
	}
	out.err = l.verify(a, body, reqID)
	return out
}

// retryWait reads a Retry-After in seconds (at least 1).
func retryWait(v string) (time.Duration, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// sessionSSO is SSO within an IdP session: AuthnRequest, Response, no
// password.
func (l *load) sessionSSO(a *agent) (time.Duration, error) {
	redirect, reqID, err := l.nextRequest()
	if err != nil {
		return 0, err
	}
	return l.sessionSSOWith(a, redirect, reqID)
}

// sessionSSOWith sends the AuthnRequest redirect (ID reqID) within a's
// session and keeps the Response for checkDeferred.
func (l *load) sessionSSOWith(a *agent, redirect, reqID string) (time.Duration, error) {
	start := time.Now()
	status, body, err := a.get(l.ctx, redirect)
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	if status != http.StatusOK {
		return 0, fmt.Errorf("GET SSO: status %d", status)
	}
	if strings.Contains(body, `name="password"`) {
		return 0, fmt.Errorf("GET SSO: asked for the password within a session")
	}
	l.checksMu.Lock()
	l.checks = append(l.checks, deferredCheck{a: a, body: body, reqID: reqID, at: time.Now()})
	l.checksMu.Unlock()
	return took, nil
}

// checkDeferred verifies every Response the sso phase received, each
// with crewjam's SP clock set to the moment it arrived (its time checks,
// such as IssueInstant within 90 s, are then those of an SP that got it
// then), on every CPU. It returns how many failed and the first failure.
func (l *load) checkDeferred() (failed int, first error) {
	l.checksMu.Lock()
	checks := l.checks
	l.checks = nil
	l.checksMu.Unlock()
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range runtime.NumCPU() {
		wg.Go(func() {
			for {
				n := int(next.Add(1)) - 1
				if n >= len(checks) {
					return
				}
				c := checks[n]
				sp := *l.sp
				sp.Clock = dsig.NewFakeClockAt(c.at)
				if err := verifyResponse(&sp, l.acs, c.a, c.body, c.reqID); err != nil {
					mu.Lock()
					failed++
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return failed, first
}

// authnRequest builds an HTTP-Redirect AuthnRequest as Flex would.
func (l *load) authnRequest() (string, string, error) {
	req, err := l.sp.MakeAuthenticationRequest(l.sp.GetSSOBindingLocation(crewjam.HTTPRedirectBinding),
		crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		return "", "", err
	}
	u, err := req.Redirect("bench", l.sp)
	if err != nil {
		return "", "", err
	}
	return u.String(), req.ID, nil
}

// prepareSSO builds, on every CPU, the AuthnRequests an sso phase of d
// can send at perSecond Responses a second (more are built as needed),
// and drops those of the phase before. Their IssueInstant is at most
// seconds old when sent; crewjam and flexidp accept 90 s.
func (l *load) prepareSSO(d time.Duration, perSecond float64) error {
	n := int(perSecond * d.Seconds())
	built := make([]builtRequest, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, runtime.NumCPU())
	for range runtime.NumCPU() {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				u, id, err := l.authnRequest()
				if err != nil {
					errs <- err
					return
				}
				built[i] = builtRequest{u, id}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("build AuthnRequests: %w", err)
	}
	l.ready = built
	l.next.Store(0)
	return nil
}

// nextRequest is the next AuthnRequest built ahead (prepareSSO), or a new
// one when they are all sent.
func (l *load) nextRequest() (string, string, error) {
	if i := int(l.next.Add(1)) - 1; i < len(l.ready) {
		return l.ready[i].url, l.ready[i].id, nil
	}
	return l.authnRequest()
}

// actionRE finds the auto-POST form: flexidp's (saml-post) or crewjam's
// (SAMLResponseForm).
var actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)" id="(?:saml-post|SAMLResponseForm)">`)

// verify checks the auto-POST page as Flex would check the Response:
// posted to the registered ACS, signatures, conditions, audience,
// InResponseTo, and the agent's NameID.
func (l *load) verify(a *agent, body, reqID string) error {
	return verifyResponse(l.sp, l.acs, a, body, reqID)
}

func verifyResponse(sp *crewjam.ServiceProvider, acs url.URL, a *agent, body, reqID string) error {
	m := actionRE.FindStringSubmatch(body)
	if m == nil || html.UnescapeString(m[1]) != flexACS {
		return fmt.Errorf("no SAML POST form to the Flex ACS")
	}
	raw, err := base64.StdEncoding.DecodeString(hiddenFields(body)["SAMLResponse"])
	if err != nil {
		return fmt.Errorf("SAMLResponse is not base64: %w", err)
	}
	assertion, err := sp.ParseXMLResponse(raw, []string{reqID}, acs)
	if err != nil {
		if ire, ok := err.(*crewjam.InvalidResponseError); ok {
			err = fmt.Errorf("%w: %v", err, ire.PrivateErr)
		}
		return fmt.Errorf("crewjam SP refuses the Response: %w", err)
	}
	if got := assertion.Subject.NameID.Value; got != a.email {
		return fmt.Errorf("NameID %q, want %q", got, a.email)
	}
	return nil
}

var inputRE = regexp.MustCompile(`<input type="hidden" name="([A-Za-z]+)" value="([^"]*)" ?/?>`)

func hiddenFields(body string) map[string]string {
	m := map[string]string{}
	for _, s := range inputRE.FindAllStringSubmatch(body, -1) {
		m[s[1]] = html.UnescapeString(s[2])
	}
	return m
}

func (a *agent) get(ctx context.Context, u string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	return a.do(req)
}

func (a *agent) post(ctx context.Context, u string, form url.Values) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return a.do(req)
}

func (a *agent) do(req *http.Request) (int, string, error) {
	// Agents sign in from their own addresses through the TLS proxy
	// (IDP_TRUST_PROXY), as in production, so per-address throttling
	// sees many clients, not one.
	req.Header.Set("X-Forwarded-For", a.addr)
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	a.retryAfter = resp.Header.Get("Retry-After")
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// result is what one phase measured.
type result struct {
	server      string // the target's name
	name        string
	agents      int
	ops, errors int
	firstErr    error
	elapsed     time.Duration
	latencies   []time.Duration // sorted
	serverCPU   float64         // CPU-seconds the server used
	agentCPU    float64         // CPU-seconds this process used
	bound, goal float64
	// rawAround is the raw rate per core (rawName: RSA or argon2id) its
	// bound rests on, measured right before and right after the phase
	// (bound is that of their mean); zero for the warm-up and the burst.
	rawAround [2]float64
	rawName   string
	// probe is what the RSA probe read during this server's sso slices
	// (its bound then rests on it); nil for other phases.
	probe *probeReading
	// started is when the measured window began (elapsed is its length).
	started time.Time
	// vsPeer is the peer\'s sso phase run beside this one (ssoDuel).
	vsPeer           *result
	serverPeakRSSKiB int64
	// cost is what the server and the database spent during the phase
	// (after minus before).
	cost counters
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

// recorder collects latencies and errors from many goroutines, and the
// CPU both processes used, until it is cut.
type recorder struct {
	l         *load
	mu        sync.Mutex
	start     time.Time
	cutAt     time.Time
	latencies []time.Duration
	// done counts every success, also those after the cut, so that the
	// counters read at the end of the phase are divided by the operations
	// they paid for.
	done      int
	errors    int
	firstErr  error
	before    counters
	after     counters
	afterDone int
}

func (l *load) newRecorder() *recorder {
	rec := &recorder{l: l}
	rec.before = l.snapshot()
	rec.start = time.Now()
	return rec
}

// add records one operation. Errors always count; a success counts only
// before the cut.
func (rec *recorder) add(d time.Duration, err error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if err != nil {
		rec.errors++
		if rec.firstErr == nil {
			rec.firstErr = err
		}
		return
	}
	rec.done++
	if rec.cutAt.IsZero() {
		rec.latencies = append(rec.latencies, d)
	}
}

// cut ends the measured window: operations still running are not counted,
// so the rate is not diluted by the agents draining.
func (rec *recorder) cut() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.cutAt.IsZero() {
		rec.cutAt = time.Now()
		rec.after = rec.l.snapshot()
	}
}

// measure runs f and returns the phase's result. The CPU figures cover
// the measured window; the per-operation costs (statements, commits,
// allocations, database CPU) are read again once every agent has stopped
// and divided by every operation that completed, so that an operation in
// flight at the cut is neither half counted nor lost.
func (l *load) measure(name string, agents int, f func(rec *recorder)) result {
	rec := l.newRecorder()
	f(rec)
	rec.cut()
	end := l.snapshot()
	slices.Sort(rec.latencies)
	r := result{server: l.t.name, name: name, agents: agents, ops: len(rec.latencies), errors: rec.errors, firstErr: rec.firstErr,
		started: rec.start, elapsed: rec.cutAt.Sub(rec.start), latencies: rec.latencies,
		serverCPU: rec.after.serverCPU - rec.before.serverCPU,
		agentCPU:  rec.after.selfCPU - rec.before.selfCPU, serverPeakRSSKiB: rec.after.serverPeakRSSKiB}
	r.cost = end.minus(rec.before)
	r.cost.ops = rec.done
	return r
}

// warmUp signs each of the first n agents in once; they keep their session
// for the sso phase.
func (l *load) warmUp(n int) result {
	l.agents = make([]*agent, n)
	return l.measure("warm-up", n, func(rec *recorder) {
		var wg sync.WaitGroup
		for i := range n {
			l.agents[i] = l.newAgent(i)
			wg.Go(func() { rec.add(l.passwordSignIn(l.agents[i])) })
		}
		wg.Wait()
	})
}

// phase runs the agents in a closed loop for d: each starts its next
// operation when the last is done.
func (l *load) phase(name string, agents int, d time.Duration, f op) result {
	r := l.measure(name, agents, func(rec *recorder) {
		deadline := time.Now().Add(d)
		timer := time.AfterFunc(d, rec.cut)
		defer timer.Stop()
		var wg sync.WaitGroup
		for _, a := range l.agents[:agents] {
			wg.Go(func() {
				for time.Now().Before(deadline) && l.ctx.Err() == nil {
					rec.add(f(a))
				}
			})
		}
		wg.Wait()
	})
	// The sso phase's Responses are verified now, each as of its arrival;
	// one that fails turns its success into an error.
	if failed, err := l.checkDeferred(); failed > 0 {
		r.ops = max(0, r.ops-failed)
		r.errors += failed
		if r.firstErr == nil {
			r.firstErr = err
		}
	}
	return r
}

// merge is the result of the phases rs (slices of one phase) taken
// together.
func merge(rs []result) result {
	m := rs[0]
	m.latencies = nil
	for i, r := range rs {
		m.latencies = append(m.latencies, r.latencies...)
		if i == 0 {
			continue
		}
		m.ops += r.ops
		m.errors += r.errors
		if m.firstErr == nil {
			m.firstErr = r.firstErr
		}
		m.elapsed += r.elapsed
		m.serverCPU += r.serverCPU
		m.agentCPU += r.agentCPU
		m.serverPeakRSSKiB = max(m.serverPeakRSSKiB, r.serverPeakRSSKiB)
		m.cost = m.cost.plus(r.cost)
	}
	slices.Sort(m.latencies)
	return m
}

// burstResult is the burst phase: an open arrival of sign-ins.
type burstResult struct {
	result
	window   time.Duration
	lastDone time.Duration // from the first arrival to the last completion
	retries  int           // the most "busy" answers one sign-in honours
	// shed counts the 503 "busy, try again" answers honoured; retried, the
	// completed sign-ins that had at least one.
	shed, retried int
	// gaveUp counts the sign-ins still busy after their last retry (they
	// are errors too).
	gaveUp int
	// errorKinds counts the errors by kind (errorKind).
	errorKinds map[string]int
	// waits are the completed sign-ins' Retry-After waits, and spans
	// their time from arrival to signed in; both sorted.
	waits, spans []time.Duration
}

// burst starts n password sign-ins evenly over window, each by a
// different agent with a fresh browser, and waits for all of them. A
// sign-in told "busy" tries again when told, at most retries times.
func (l *load) burst(n int, window time.Duration, retries int) *burstResult {
	_ = resetPeakRSS(l.t.pid)
	var last atomic.Int64
	br := &burstResult{window: window, retries: retries, errorKinds: map[string]int{}}
	var mu sync.Mutex
	br.result = l.measure("burst", n, func(rec *recorder) {
		start := time.Now()
		var wg sync.WaitGroup
		for i := range n {
			at := start.Add(time.Duration(int64(window) * int64(i) / int64(n)))
			a := l.newAgent(i)
			wg.Go(func() {
				time.Sleep(time.Until(at))
				out := l.signIn(a, retries)
				rec.add(out.took, out.err)
				mu.Lock()
				br.shed += out.shed
				switch {
				case out.err == nil:
					br.waits = append(br.waits, out.waited)
					br.spans = append(br.spans, time.Since(at))
					if out.shed > 0 {
						br.retried++
					}
				case errors.Is(out.err, errGaveUp):
					br.gaveUp++
				}
				if out.err != nil {
					br.errorKinds[errorKind(out.err)]++
				}
				mu.Unlock()
				done := int64(time.Since(start))
				for {
					cur := last.Load()
					if done <= cur || last.CompareAndSwap(cur, done) {
						break
					}
				}
			})
		}
		wg.Wait()
	})
	br.lastDone = time.Duration(last.Load())
	slices.Sort(br.waits)
	slices.Sort(br.spans)
	return br
}

// errorKind names what went wrong with a sign-in, for the report: no
// answer (the connection closed or reset), a timeout, an HTTP status, gave
// up after the busy answers, or another error.
func errorKind(err error) string {
	var ne net.Error
	msg := err.Error()
	switch {
	case errors.Is(err, errGaveUp):
		return "gave up (still busy after the last retry)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "no answer (connection closed: EOF/reset)"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer (client timeout)"
	case strings.HasPrefix(msg, "login: status "), strings.HasPrefix(msg, "GET SSO: status "):
		status, _, _ := strings.Cut(msg, ",")
		return status
	default:
		return "other"
	}
}

// quantile is the p-quantile of sorted ds, 0 for none.
func quantile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}
