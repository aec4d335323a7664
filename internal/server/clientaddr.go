package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses a list of proxy addresses and CIDR ranges
// separated by commas or spaces ("10.0.0.0/8, 2001:db8::/32, 192.0.2.7").
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var nets []netip.Prefix
	for _, item := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if p, err := netip.ParsePrefix(item); err == nil {
			nets = append(nets, p.Masked())
		} else if a, err := netip.ParseAddr(item); err == nil && a.Zone() == "" {
			a = a.Unmap()
			nets = append(nets, netip.PrefixFrom(a, a.BitLen()))
		} else {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR range such as 10.0.0.0/8", item)
		}
	}
	return nets, nil
}

// clientAddr is the address of the client that sent r. Without trust it
// is the peer's. With trust, X-Forwarded-For is walked from its right end
// (the entry the nearest proxy appended) leftwards, starting at the peer:
// while the address in hand is a trusted proxy, the entry to its left is
// what that proxy saw. The first address that is not a trusted proxy is
// the client; the entries left of it are the client's own claims and are
// never read. A malformed entry stops the walk at the last good address.
//
// With no proxies listed, the peer is trusted when its address is
// loopback or private (a proxy on the same host or in the cluster) and
// only one entry is taken: a client on a private network cannot make
// itself look like another by adding private entries.
func clientAddr(r *http.Request, trust bool, proxies []netip.Prefix) string {
	addr, ok := parseForwarded(r.RemoteAddr)
	if !ok {
		// Not from a TCP listener (a test, a Unix socket): as is.
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			return host
		}
		return r.RemoteAddr
	}
	if !trust {
		return addr.String()
	}
	isProxy, maxHops := func(a netip.Addr) bool { return a.IsLoopback() || a.IsPrivate() }, 1
	if len(proxies) > 0 {
		isProxy, maxHops = func(a netip.Addr) bool {
			for _, p := range proxies {
				if p.Contains(a) {
					return true
				}
			}
			return false
		}, -1
	}
	headers := r.Header.Values("X-Forwarded-For")
	for i, hops := len(headers)-1, 0; i >= 0; i-- {
		entries := strings.Split(headers[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			if hops == maxHops || !isProxy(addr) {
				return addr.String()
			}
			next, ok := parseForwarded(entries[j])
			if !ok {
				return addr.String()
			}
			addr, hops = next, hops+1
		}
	}
	return addr.String()
}

// parseForwarded parses one address as proxies and listeners write it:
// "192.0.2.1", "192.0.2.1:443", "2001:db8::1", "[2001:db8::1]:443" or
// "[2001:db8::1]", with spaces around. IPv4-mapped IPv6 addresses become
// IPv4, zones are dropped, and the unspecified address is not an address.
func parseForwarded(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		if ap, err2 := netip.ParseAddrPort(s); err2 == nil {
			a, err = ap.Addr(), nil
		} else if inner, ok := strings.CutPrefix(s, "["); ok && strings.HasSuffix(inner, "]") {
			a, err = netip.ParseAddr(strings.TrimSuffix(inner, "]"))
		}
	}
	if err != nil || a.IsUnspecified() {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
