// Package origin decides which browser origins may open a real-time
// connection (native WebSocket or Socket.IO): the server's own host and the
// configured ones. It exists to stop cross-site WebSocket hijacking; clients
// that send no Origin header (not browsers) are allowed.
package origin

import (
	"net/url"
	"strings"
)

// Policy is the set of origins allowed besides the server's own host.
type Policy struct {
	// Allowed lists origins such as "https://example.com"; "*" allows any.
	Allowed []string
}

// Allows reports whether a request to host with the Origin header origin
// may connect.
func (p Policy) Allows(origin, host string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, o := range p.Allowed {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}
