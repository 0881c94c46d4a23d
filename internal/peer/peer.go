// Package peer tells who is at the other end of an HTTP request or a
// WebSocket/Socket.IO handshake: the client's address, trusting
// X-Forwarded-For only from the proxies the operator named, and the login
// session cookie the web page carries.
package peer

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/parley-chat/parley/internal/node"
)

// CookieName is the login session cookie of the web page.
const CookieName = "parley_session"

// Resolver turns a request's remote address and headers into a node.Peer.
// The zero Resolver trusts no proxy.
type Resolver struct {
	// Trusted are the proxies (load balancers, Caddy, nginx) whose
	// X-Forwarded-For is believed. A request from elsewhere is its own
	// client, whatever its headers say.
	Trusted []netip.Prefix
}

// ParseTrusted parses a comma-separated list of addresses and prefixes
// ("127.0.0.1, 10.0.0.0/8").
func ParseTrusted(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, err
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Request returns the peer of an HTTP request.
func (r Resolver) Request(req *http.Request) node.Peer {
	return r.Peer(req.RemoteAddr, req.Header)
}

// Peer returns the peer of a connection from remoteAddr ("host:port") whose
// request had header h.
func (r Resolver) Peer(remoteAddr string, h http.Header) node.Peer {
	p := node.Peer{Addr: remoteAddr, IP: r.ClientIP(remoteAddr, h)}
	if h != nil {
		req := http.Request{Header: h}
		if c, err := req.Cookie(CookieName); err == nil {
			p.Token = c.Value
		}
	}
	return p
}

// ClientIP returns the client's address: the remote address, or, when that
// is a trusted proxy, the rightmost address of X-Forwarded-For that is not
// itself a trusted proxy (what a client put further left can be forged).
func (r Resolver) ClientIP(remoteAddr string, h http.Header) netip.Addr {
	ip := parseHost(remoteAddr)
	if !r.trusted(ip) || h == nil {
		return ip
	}
	hops := h.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return ip // a hop we cannot read: stop at the last one we trust
			}
			a = a.Unmap()
			if !r.trusted(a) {
				return a
			}
			ip = a
		}
	}
	return ip
}

func (r Resolver) trusted(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range r.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func parseHost(addr string) netip.Addr {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
