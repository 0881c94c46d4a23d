package origin

import "testing"

func TestPolicy(t *testing.T) {
	p := Policy{Allowed: []string{"https://friend.example/"}}
	for _, c := range []struct {
		origin, host string
		want         bool
	}{
		{"", "chat.example", true},                           // not a browser
		{"https://chat.example", "chat.example", true},       // same host
		{"http://CHAT.example", "chat.example", true},        // hosts are case-insensitive
		{"https://friend.example", "chat.example", true},     // configured (trailing slash ignored)
		{"https://evil.example", "chat.example", false},      // cross-site
		{"https://chat.example.evil", "chat.example", false}, // look-alike
		{"null", "chat.example", false},                      // sandboxed frames, file://
		{"https://chat.example:8443", "chat.example", false}, // another port is another origin
	} {
		if got := p.Allows(c.origin, c.host); got != c.want {
			t.Errorf("Allows(%q, %q) = %v; want %v", c.origin, c.host, got, c.want)
		}
	}
	if !(Policy{Allowed: []string{"*"}}).Allows("https://any.example", "chat.example") {
		t.Error(`"*" does not allow any origin`)
	}
}
