package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/parley-chat/parley/internal/wstest"
)

func TestHistorySurvivesRestart(t *testing.T) {
	s := startServer(t)
	alice := s.client("")
	token := alice.Hello("alice").Str("token")
	alice.Join("lobby")
	for i := 1; i <= 5; i++ {
		alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": fmt.Sprint("m", i)})
	}
	alice.Request(map[string]any{"type": "dm", "to": "alice2", "text": "x"}) // unknown: error, nothing stored
	bob := s.client("bob")
	bob.MustOK(map[string]any{"type": "dm", "to": "alice", "text": "private"})

	s = s.restart()
	alice = s.client("")
	if w := alice.MustOK(map[string]any{"type": "hello", "token": token}); w.Str("nickname") != "alice" {
		t.Fatalf("token after restart: %v; want alice", w)
	}
	if ack := alice.Join("lobby"); ack.Num("last_seq") != 5 {
		t.Errorf("last_seq after restart = %d; want 5", ack.Num("last_seq"))
	}
	page := alice.MustOK(map[string]any{"type": "history", "room": "lobby", "limit": 2})
	msgs := page["messages"].([]any)
	if len(msgs) != 2 || page["has_more"] != true {
		t.Fatalf("newest page = %v; want 2 messages and has_more", page)
	}
	if got := texts(msgs); got != "m4 m5" {
		t.Errorf("newest page = %s; want m4 m5 (oldest first)", got)
	}
	older := alice.MustOK(map[string]any{"type": "history", "room": "lobby", "before": 4, "limit": 10})
	if got := texts(older["messages"].([]any)); got != "m1 m2 m3" || older["has_more"] != false {
		t.Errorf("page before 4 = %s has_more=%v; want m1 m2 m3, false", got, older["has_more"])
	}
	// Resuming after a sequence number: what came after, oldest first.
	resume := alice.MustOK(map[string]any{"type": "history", "room": "lobby", "after": 2, "limit": 2})
	if got := texts(resume["messages"].([]any)); got != "m3 m4" || resume["has_more"] != true {
		t.Errorf("page after 2 = %s has_more=%v; want m3 m4, true", got, resume["has_more"])
	}
	if rest := alice.MustOK(map[string]any{"type": "history", "room": "lobby", "after": 4}); texts(rest["messages"].([]any)) != "m5" || rest["has_more"] != false {
		t.Errorf("page after 4 = %v; want m5, has_more false", rest)
	}
	convs := alice.MustOK(map[string]any{"type": "conversations"})["rooms"].([]any)
	if len(convs) != 1 || convs[0].(map[string]any)["with"] != "bob" || convs[0].(map[string]any)["name"] != "dm:alice:bob" {
		t.Errorf("conversations = %v; want the one with bob", convs)
	}
	dms := alice.MustOK(map[string]any{"type": "history", "with": "bob"})
	if got := texts(dms["messages"].([]any)); got != "private" {
		t.Errorf("DM history after restart = %s; want private", got)
	}
	// Sequence numbers go on where they stopped.
	if m := alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "m6"}).Msg(); m.Num("seq") != 6 {
		t.Errorf("seq after restart = %d; want 6", m.Num("seq"))
	}
}

func texts(msgs []any) string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.(map[string]any)["text"].(string))
	}
	return strings.Join(out, " ")
}

func TestBadInputGetsErrorsAndOthersCarryOn(t *testing.T) {
	s := startServer(t, "--burst", "100", "--rate", "100")
	bad, alice, bob := s.client(""), s.client("alice"), s.client("bob")
	// Before hello.
	if f := bad.Request(map[string]any{"type": "join", "room": "lobby"}); f.Str("code") != "not_authenticated" {
		t.Errorf("join before hello: %v; want not_authenticated", f)
	}
	bad.Hello("mallory")
	alice.Join("lobby")
	bob.Join("lobby")

	raw := []struct {
		frame, code string
	}{
		{`not json`, "bad_json"},
		{`[1,2]`, "bad_json"},
		{`"hello"`, "bad_json"},
		{`{"type":"dance","ref":"r"}`, "unknown_type"},
		{`{"ref":"r"}`, "missing_field"},
		{`{"type":"send","room":"lobby","ref":"r"}`, "missing_field"},
		{`{"type":"send","room":5,"text":"x","ref":"r"}`, "invalid"},
		{`{"type":"send","room":"lobby","text":"x","ref":"r"}`, "not_joined"},
		{`{"type":"join","room":"no spaces","ref":"r"}`, "invalid"},
		{`{"type":"join","room":"dm:a:b","ref":"r"}`, "invalid"},
		{`{"type":"history","room":"lobby","limit":-1,"ref":"r"}`, "invalid"},
		{`{"type":"leave","room":"lobby","ref":"r"}`, "not_joined"},
		{`{"type":"dm","to":"ghost","text":"x","ref":"r"}`, "unknown_user"},
	}
	for _, tc := range raw {
		if err := bad.SendRaw([]byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		f := bad.ExpectType("error")
		if f.Str("code") != tc.code || f.Str("message") == "" {
			t.Errorf("%s: got %v; want code %s with a message", tc.frame, f, tc.code)
		}
	}
	bad.Join("lobby")
	for _, tc := range []struct {
		text, code string
	}{
		{"   \n ", "missing_field"},
		{strings.Repeat("é", 4001), "too_large"},
		{"ok", ""},
	} {
		f := bad.Request(map[string]any{"type": "send", "room": "lobby", "text": tc.text, "client_id": strings.Repeat("x", 65)})
		if f.Str("code") == "" {
			t.Errorf("send %.10q with a long client_id: %v; want an error", tc.text, f)
		}
		if tc.code != "" && f.Str("code") != tc.code {
			t.Errorf("send %.10q: %v; want %s", tc.text, f, tc.code)
		}
	}
	// A frame above the command limit but below the hard cap: an error, the
	// connection stays open.
	big := fmt.Sprintf(`{"type":"send","room":"lobby","text":%q}`, strings.Repeat("a", 30000))
	if err := bad.SendRaw([]byte(big)); err != nil {
		t.Fatal(err)
	}
	if f := bad.ExpectType("error"); f.Str("code") != "too_large" {
		t.Errorf("30 KB frame: %v; want too_large", f)
	}
	bad.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "still here"})

	// Others saw only the good message and can go on.
	alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "fine"})
	bob.Expect(isMessage("still here"))
	bob.Expect(isMessage("fine"))
}

func TestFrameOverHardCapClosesWith1009(t *testing.T) {
	s := startServer(t, "--max-frame-bytes", "65536")
	c, other := s.client("big"), s.client("other")
	other.Join("lobby")
	if err := c.SendRaw([]byte(strings.Repeat("x", 70000))); err != nil {
		t.Fatal(err)
	}
	if !c.Closed(wstest.Timeout) || c.CloseCode() != ws.StatusMessageTooBig {
		t.Errorf("close code = %v (err %v); want 1009", c.CloseCode(), c.CloseErr())
	}
	other.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "unaffected"})
}

func TestRateLimitAnswersThenFloodingCloses(t *testing.T) {
	s := startServer(t, "--rate", "1", "--burst", "5")
	c := s.client("fast")
	var limited wstest.Frame
	for i := 0; i < 10; i++ {
		f := c.Request(map[string]any{"type": "rooms"})
		if f.Str("code") == "rate_limited" {
			limited = f
			break
		}
	}
	if limited == nil {
		t.Fatal("10 commands at once with burst 5: no rate_limited error")
	}
	if limited.Num("retry_after_ms") <= 0 {
		t.Errorf("rate_limited without retry_after_ms: %v", limited)
	}
	// Far past the limit (4×burst refused in a row): closed with 1008.
	for i := 0; i < 40 && !c.Closed(0); i++ {
		_ = c.SendRaw([]byte(`{"type":"rooms"}`))
	}
	if !c.Closed(wstest.Timeout) || c.CloseCode() != ws.StatusPolicyViolation {
		t.Errorf("flooding: close code %v (err %v); want 1008", c.CloseCode(), c.CloseErr())
	}
}

func TestClientThatStopsReadingIsCutOffOthersKeepReceiving(t *testing.T) {
	s := startServer(t, "--outbox-messages", "64", "--outbox-bytes", "262144",
		"--rate", "10000", "--burst", "10000", "--max-message-chars", "15000")
	sender, reader := s.client("sender"), s.client("reader")
	stuck := s.client("stuck")
	for _, c := range []*wstest.Client{sender, reader, stuck} {
		c.Join("lobby")
	}
	// stuck stops reading: the socket buffers fill, then its outbox.
	stuck.StopReading()

	// 16 MB in all: more than loopback socket buffers hold.
	text := strings.Repeat("z", 14000)
	const n = 1200
	for i := 0; i < n; i++ {
		// The sender reads its acks as a client does (one in flight at a
		// time); one that sent 16 MB without reading would be a slow
		// consumer of its own acks and events, and cut off as well.
		sender.MustOK(map[string]any{"type": "send", "room": "lobby", "text": fmt.Sprint(i, text)})
	}
	got := 0
	for got < n {
		if _, ok := reader.Wait(wstest.Timeout, anyMessage); !ok {
			break
		}
		got++
	}
	if got != n {
		t.Errorf("reader received %d of %d messages", got, n)
	}
	// The stuck client's connection was ended by the server.
	deadline := time.Now().Add(wstest.Timeout)
	for time.Now().Before(deadline) {
		f := sender.MustOK(map[string]any{"type": "presence", "room": "lobby"})
		if !strings.Contains(fmt.Sprint(f["members"]), "stuck") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Error("stuck client still a member after its outbox overflowed")
}

func TestWebSocketOriginMustMatch(t *testing.T) {
	s := startServer(t, "--allowed-origins", "https://friend.example")
	url := wstest.WSURL(s.URL())
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{s.URL(), true},
		{"https://friend.example", true},
		{"https://evil.example", false},
		{"null", false},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		c, err := wstest.TryDial(url, h)
		if (err == nil) != tc.ok {
			t.Errorf("origin %q: dial err %v; want ok=%v", tc.origin, err, tc.ok)
		}
		if c != nil {
			c.Close()
		}
	}
}

func TestShutdownClosesWith1001AndKeepsAcknowledgedMessages(t *testing.T) {
	s := startServer(t)
	alice := s.client("alice")
	alice.Join("lobby")
	acked := alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "before shutdown"}).Msg()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !alice.Closed(wstest.Timeout) || alice.CloseCode() != ws.StatusGoingAway {
		t.Errorf("close code = %v (err %v); want 1001", alice.CloseCode(), alice.CloseErr())
	}
	s2 := startServerDB(t, s.db)
	c := s2.client("reader")
	c.Join("lobby")
	f := c.MustOK(map[string]any{"type": "history", "room": "lobby"})
	if msgs := f["messages"].([]any); len(msgs) != 1 || int64(msgs[0].(map[string]any)["id"].(float64)) != acked.Num("id") {
		t.Errorf("history after shutdown = %v; want the acknowledged message", msgs)
	}
}

func TestPageIsServedWithASecurityPolicy(t *testing.T) {
	s := startServer(t)
	resp, err := http.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "app.js") {
		t.Errorf("GET / = %d; want the page", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	for _, path := range []string{"/app.js", "/client.js", "/i18n.js", "/style.css", "/favicon.svg", "/healthz"} {
		r, err := http.Get(s.URL() + path)
		if err != nil || r.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %v %v", path, r.StatusCode, err)
		}
		r.Body.Close()
	}
}
