package login

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Proxies are the addresses of trusted front-end proxies
// (server.trusted_proxies): a connection from one may name the client it
// carries (IMAP ID "x-originating-ip", POP3 XCLIENT ADDR), whose address
// the session then throttles and logs.
type Proxies []netip.Prefix

// ParseProxies reads addresses ("10.0.0.5") and prefixes ("10.0.0.0/24").
func ParseProxies(list []string) (Proxies, error) {
	var p Proxies
	for _, s := range list {
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not an address or a prefix (10.0.0.0/24)", s)
			}
			p = append(p, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		pre, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not an address or a prefix (10.0.0.0/24)", s)
		}
		p = append(p, pre.Masked())
	}
	return p, nil
}

// Contains reports whether ip (an address without port) is a trusted
// proxy's.
func (p Proxies) Contains(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// Origin is a client address a trusted proxy named: ip without port, for
// throttling and limits; Remote with the port when the proxy gave one,
// for logs.
func Origin(ip, port string) (addr, remote string, ok bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", "", false
	}
	addr = a.Unmap().String()
	remote = addr
	if port != "" {
		remote = net.JoinHostPort(addr, port)
	}
	return addr, remote, true
}
