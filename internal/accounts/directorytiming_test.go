package accounts_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/ldaptest"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
	"github.com/flexidp/flexidp/internal/users"
)

// slowProxy forwards TCP connections to target, holding every chunk the
// server sends for delay: a directory across a WAN, whose round trips
// dominate a sign-in's time. It returns the proxy's address.
func slowProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { _, _ = io.Copy(s, c) }()
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					if err != nil {
						return
					}
					time.Sleep(delay) // the network's latency, not a synchronisation
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// TestDirectoryDomainTiming: in a domain a directory signs in, a refused
// sign-in takes the same time whether or not a local account has that
// email. Before, a local account answered in hashing time only while an
// unknown login waited for the directory's search: the medians told the
// local accounts apart by the directory's round trip.
func TestDirectoryDomainTiming(t *testing.T) {
	ctx := context.Background()
	dir := ldaptest.Start(t)
	// The directory's round trip is long against the noise of a busy CI
	// machine (hash times there drift by 10-15 ms): a local account's
	// refusal that skipped the directory would be a whole round trip
	// faster, twice the bound.
	const latency = 60 * time.Millisecond
	u, _ := url.Parse(dir.LDAPS)
	slow := "ldaps://" + slowProxy(t, u.Host, latency)
	svc := accounts.New(accounts.Config{Store: sqlitetest.New(t), Log: slog.New(slog.DiscardHandler),
		Lockout: accounts.LockoutPolicy{BackoffAfter: 1000, LockAfter: 1000, AddressBackoffAfter: 1000, AddressLockAfter: 1000},
		Hasher:  users.NewHasher(users.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2)})
	src := accounts.Source{Name: "corp", Kind: accounts.KindLDAP, Password: ldaptest.ServicePW, Domains: []string{"acme.test"},
		LDAP: accounts.LDAPSettings{URLs: []string{slow}, CAPEM: string(dir.CAPEM), BindDN: ldaptest.ServiceDN, UserBase: ldaptest.UsersDN}}
	if _, err := svc.AddDirectory(ctx, admin, src); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, admin, accounts.NewUser{User: users.User{Email: "contractor@acme.test", Roles: []string{"agent"}},
		Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	timed := func(email string) time.Duration {
		t.Helper()
		start := time.Now()
		_, err := svc.SignIn(ctx, accounts.SignInRequest{Email: email, Password: "not the password", Address: "192.0.2.9"})
		if err != accounts.ErrBadCredentials {
			t.Fatalf("%s: %v, want ErrBadCredentials", email, err)
		}
		return time.Since(start)
	}
	timed("warm-up@acme.test") // the pooled connection's handshake
	// Interleaved pairs, compared pair by pair: the median of the
	// differences cancels the machine's load drifting during the run
	// (two medians taken apart once drifted 12.8 ms under parallel
	// package load).
	var local, unknown, diffs []time.Duration
	for range 21 {
		l, u := timed("contractor@acme.test"), timed("nobody@acme.test")
		local, unknown, diffs = append(local, l), append(unknown, u), append(diffs, l-u)
	}
	ml, mu, md := median(local), median(unknown), median(diffs)
	t.Logf("median refusal: local account %v, unknown login %v, median pair difference %v (directory round trip %v)", ml, mu, md, latency)
	if md.Abs() > latency/2 {
		t.Errorf("a local account's refusal takes %v, an unknown login's %v: %v apart (median of paired differences) tells the local accounts apart", ml, mu, md)
	}
}
