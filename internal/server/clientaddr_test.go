package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
)

// TestClientAddress: the client address is the rightmost X-Forwarded-For
// entry that is not a trusted proxy, reached from the peer; the entries a
// client writes itself (left of what its first proxy appended) are never
// believed.
func TestClientAddress(t *testing.T) {
	listed := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("2001:db8:ffff::/48")}
	for _, tc := range []struct {
		name    string
		trust   bool
		proxies []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{name: "no trust: the peer", peer: "10.0.0.2:5000", xff: []string{"198.51.100.7"}, want: "10.0.0.2"},
		{name: "no trust, IPv6 peer", peer: "[2001:db8::9]:5000", want: "2001:db8::9"},

		// IDP_TRUST_PROXY without a list: a loopback or private peer, one hop.
		{name: "default: proxy on the host appends", trust: true, peer: "172.18.0.1:40000", xff: []string{"6.6.6.6, 198.51.100.7"}, want: "198.51.100.7"},
		{name: "default: loopback proxy", trust: true, peer: "127.0.0.1:40000", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "default: public peer is no proxy", trust: true, peer: "203.0.113.9:40000", xff: []string{"198.51.100.7"}, want: "203.0.113.9"},
		{name: "default: one hop only", trust: true, peer: "10.0.0.2:1", xff: []string{"6.6.6.6, 10.1.2.3"}, want: "10.1.2.3"},
		{name: "default: no header", trust: true, peer: "10.0.0.2:1", want: "10.0.0.2"},
		{name: "default: empty header", trust: true, peer: "10.0.0.2:1", xff: []string{""}, want: "10.0.0.2"},
		{name: "default: garbage", trust: true, peer: "10.0.0.2:1", xff: []string{"6.6.6.6, unknown"}, want: "10.0.0.2"},
		{name: "default: trailing comma", trust: true, peer: "10.0.0.2:1", xff: []string{"198.51.100.7,"}, want: "10.0.0.2"},
		{name: "default: unspecified", trust: true, peer: "10.0.0.2:1", xff: []string{"0.0.0.0"}, want: "10.0.0.2"},
		{name: "default: two headers", trust: true, peer: "10.0.0.2:1", xff: []string{"6.6.6.6", "198.51.100.7"}, want: "198.51.100.7"},
		{name: "default: port", trust: true, peer: "10.0.0.2:1", xff: []string{"198.51.100.7:5555"}, want: "198.51.100.7"},
		{name: "default: IPv6 with port", trust: true, peer: "10.0.0.2:1", xff: []string{"[2001:db8::7]:443"}, want: "2001:db8::7"},
		{name: "default: IPv6 in brackets", trust: true, peer: "10.0.0.2:1", xff: []string{"[2001:db8::7]"}, want: "2001:db8::7"},
		{name: "default: spaces", trust: true, peer: "[::1]:1", xff: []string{"  2001:db8::7\t"}, want: "2001:db8::7"},
		{name: "default: IPv4-mapped peer", trust: true, peer: "[::ffff:10.0.0.2]:1", xff: []string{"::ffff:198.51.100.7"}, want: "198.51.100.7"},
		{name: "default: ULA peer", trust: true, peer: "[fd00::2]:1", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},

		// IDP_TRUSTED_PROXIES: every listed hop is walked, any peer outside is none.
		{name: "list: two proxies", proxies: listed, peer: "10.0.0.2:1", xff: []string{"6.6.6.6, 198.51.100.7, 192.0.2.10"}, want: "198.51.100.7"},
		{name: "list: peer not listed", proxies: listed, peer: "203.0.113.9:1", xff: []string{"198.51.100.7"}, want: "203.0.113.9"},
		{name: "list: private peer not listed", proxies: listed, peer: "192.168.1.1:1", xff: []string{"198.51.100.7"}, want: "192.168.1.1"},
		{name: "list: garbage keeps the last good", proxies: listed, peer: "10.0.0.2:1", xff: []string{"6.6.6.6, bad, 192.0.2.10"}, want: "192.0.2.10"},
		{name: "list: all proxies", proxies: listed, peer: "10.0.0.2:1", xff: []string{"10.9.9.9, 192.0.2.10"}, want: "10.9.9.9"},
		{name: "list: headers in order", proxies: listed, peer: "10.0.0.2:1", xff: []string{"6.6.6.6, 198.51.100.7", "192.0.2.10"}, want: "198.51.100.7"},
		{name: "list: IPv6 proxy", proxies: listed, peer: "[2001:db8:ffff::1]:1", xff: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "list and trust", trust: true, proxies: listed, peer: "10.0.0.2:1", xff: []string{"198.51.100.7, 10.0.0.3"}, want: "198.51.100.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{cfg: Config{TrustProxy: tc.trust, TrustedProxies: tc.proxies}}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientIP(r); got != tc.want {
				t.Errorf("peer %s, X-Forwarded-For %q: client %s, want %s", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.7 2001:db8::/32,::ffff:198.51.100.1,172.16.5.4/12")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "198.51.100.1/32", "172.16.0.0/12"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("entry %d: %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example.com", "10.0.0", "fe80::1%eth0"} {
		if _, err := ParseTrustedProxies(bad); err == nil || !strings.Contains(err.Error(), "CIDR") {
			t.Errorf("%q: err %v, want a sentence naming CIDR ranges", bad, err)
		}
	}
}

// TestAuditRecordsDerivedAddress: a failed sign-in behind a proxy is
// audited (and throttled) with the address derived from X-Forwarded-For,
// not the one the client wrote at its left.
func TestAuditRecordsDerivedAddress(t *testing.T) {
	st := sqlitetest.New(t)
	const base = "https://idp.example.com"
	h := newTestServer(t, Config{TrustProxy: true}, base, st).Handler()
	behindProxy := func(r *http.Request) *http.Request {
		r.RemoteAddr = "172.18.0.1:40000"
		r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.7")
		return r
	}

	w := httptest.NewRecorder()
	h.ServeHTTP(w, behindProxy(httptest.NewRequest(http.MethodGet, base+"/login", nil)))
	fields := map[string]string{}
	for _, m := range regexp.MustCompile(`name="(csrf|state)" value="([^"]*)"`).FindAllStringSubmatch(w.Body.String(), -1) {
		fields[m[1]] = m[2]
	}
	form := url.Values{"csrf": {fields["csrf"]}, "state": {fields["state"]}, "email": {"nobody@example.com"}, "password": {"wrong password"}}
	r := behindProxy(httptest.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode())))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)

	events, err := st.ListAudit(t.Context(), store.AuditFilter{Action: accounts.AuditSignInFailure})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d signin.failure events, want 1 (status %d)", len(events), w.Code)
	}
	if got := events[0].RemoteAddr; got != "198.51.100.7" {
		t.Errorf("audited address %q, want 198.51.100.7 (the address the proxy appended)", got)
	}
}
