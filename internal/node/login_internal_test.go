package node

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// The failure tables stay bounded: past the limit, the key whose last
// failure is oldest is dropped.
func TestLoginFailuresMemoryIsBounded(t *testing.T) {
	f := newFailures(3, time.Minute, 100)
	now := time.Unix(1000, 0)
	for i := range 1000 {
		f.fail(fmt.Sprint("k", i), now)
	}
	if f.size() != 100 {
		t.Errorf("%d keys tracked; want at most 100", f.size())
	}
	if f.wait("k999", now) != 0 || len(f.keys["k999"].Value.(*failEntry).times) != 1 {
		t.Error("the newest key was dropped")
	}
	if _, ok := f.keys["k0"]; ok {
		t.Error("the oldest key is still tracked")
	}
	// A key failing again moves to the back: it survives a flood.
	f.fail("k900", now)
	for i := range 99 {
		f.fail(fmt.Sprint("new", i), now)
	}
	if _, ok := f.keys["k900"]; !ok {
		t.Error("a key that failed again was dropped before older ones")
	}
	// Each key keeps at most limit times, and ages out.
	for range 10 {
		f.fail("busy", now)
	}
	if got := len(f.keys["busy"].Value.(*failEntry).times); got != 3 {
		t.Errorf("%d failure times kept; want the limit, 3", got)
	}
	if w := f.wait("busy", now.Add(20*time.Second)); w != 40*time.Second {
		t.Errorf("wait = %v; want 40s", w)
	}
	if w := f.wait("busy", now.Add(time.Minute)); w != 0 || f.keys["busy"] != nil {
		t.Errorf("after the window: wait %v, still tracked %v", w, f.keys["busy"] != nil)
	}
}

// IPv6 addresses count by /64; IPv4-mapped ones as IPv4.
func TestLoginIPKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":             "192.0.2.1",
		"::ffff:192.0.2.1":      "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::99": "2001:db8:1:2::/64",
	} {
		if got := ipKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("ipKey(%s) = %q; want %q", in, got, want)
		}
	}
	if ipKey(netip.Addr{}) != "" {
		t.Error("an invalid address has a key")
	}
}
