package peer_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/parley-chat/parley/internal/peer"
)

func TestClientIP(t *testing.T) {
	trusted, err := peer.ParseTrusted("127.0.0.1, 10.0.0.0/8, ::1")
	if err != nil {
		t.Fatal(err)
	}
	r := peer.Resolver{Trusted: trusted}
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct client", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"direct client forging the header", "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"behind one proxy", "127.0.0.1:40000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client forged a hop before the proxy appended", "127.0.0.1:40000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", "127.0.0.1:40000", []string{"198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"header lines in order", "127.0.0.1:40000", []string{"6.6.6.6", "198.51.100.1", "10.1.2.3"}, "198.51.100.1"},
		{"proxy without the header", "10.0.0.5:1", nil, "10.0.0.5"},
		{"garbage hop stops the walk", "127.0.0.1:1", []string{"198.51.100.1, not-an-ip"}, "127.0.0.1"},
		{"IPv6 behind an IPv6 proxy", "[::1]:8080", []string{"2001:db8::5"}, "2001:db8::5"},
		{"IPv4-mapped addresses unmapped", "[::ffff:203.0.113.9]:1", nil, "203.0.113.9"},
	}
	for _, c := range cases {
		h := http.Header{}
		for _, v := range c.xff {
			h.Add("X-Forwarded-For", v)
		}
		if got := r.ClientIP(c.remote, h); got != netip.MustParseAddr(c.want) {
			t.Errorf("%s: ClientIP(%s, %q) = %v, want %s", c.name, c.remote, c.xff, got, c.want)
		}
	}
	if got := (peer.Resolver{}).ClientIP("127.0.0.1:1", http.Header{"X-Forwarded-For": {"198.51.100.1"}}); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("the zero Resolver trusted a proxy: %v", got)
	}
	if got := r.ClientIP("pipe", nil); got.IsValid() {
		t.Errorf("an address that is not host:port gave %v", got)
	}
}

func TestPeerCarriesTheLoginCookie(t *testing.T) {
	h := http.Header{"Cookie": {"theme=dark; " + peer.CookieName + "=tok123; other=x"}}
	p := peer.Resolver{}.Peer("192.0.2.1:9", h)
	if p.Token != "tok123" || p.IP != netip.MustParseAddr("192.0.2.1") || p.Addr != "192.0.2.1:9" {
		t.Errorf("Peer = %+v", p)
	}
	if p := (peer.Resolver{}).Peer("192.0.2.1:9", http.Header{}); p.Token != "" {
		t.Errorf("a request without the cookie has token %q", p.Token)
	}
}

func TestParseTrustedRefusesGarbage(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "localhost", "1.2.3"} {
		if _, err := peer.ParseTrusted(bad); err == nil {
			t.Errorf("ParseTrusted(%q) accepted it", bad)
		}
	}
	got, err := peer.ParseTrusted(" 192.0.2.1 , 10.9.8.7/8 ,")
	if err != nil || len(got) != 2 || got[1].String() != "10.0.0.0/8" {
		t.Errorf("ParseTrusted = %v, %v", got, err)
	}
}
