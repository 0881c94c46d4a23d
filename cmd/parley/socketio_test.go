package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/wstest"
)

// Socket.IO clients, old and new, over every transport, in the same chat
// as native clients.

var sioVersions = []string{"4", "2", "1"}
var sioTransports = []string{"polling", "websocket", "upgrade"}

// eachSocketIOClient runs fn as a subtest for every client version and
// transport, with s bound to the subtest.
func eachSocketIOClient(t *testing.T, s *server, fn func(t *testing.T, s *server, v, tr string)) {
	for _, v := range sioVersions {
		for _, tr := range sioTransports {
			t.Run("v"+v+"/"+tr, func(t *testing.T) { fn(t, &server{Main: s.Main, t: t, db: s.db}, v, tr) })
		}
	}
}

func TestSocketIOClientsChatWithNativeClients(t *testing.T) {
	s := startServer(t, "--rate", "1000", "--burst", "1000")
	native := s.client("nat")
	native.Join("lobby")
	eachSocketIOClient(t, s, func(t *testing.T, s *server, v, tr string) {
		nick := func(who string) string { return who + v + tr[:2] }
		alice := s.sio(v, tr, "/")
		switch tr {
		case "upgrade":
			alice.waitTransport("websocket")
		default:
			alice.waitTransport(tr)
		}
		w := alice.mustCall("hello", map[string]any{"nickname": nick("alice")})
		if w["type"] != "welcome" || w["nickname"] != nick("alice") || str(w["token"]) == "" {
			t.Fatalf("hello ack = %v", w)
		}
		j := alice.mustCall("join", map[string]any{"room": "lobby"})
		if !strings.Contains(fmt.Sprint(j["members"]), "nat") {
			t.Errorf("join ack members %v; want the native client among them", j["members"])
		}
		native.Expect(func(f wstest.Frame) bool { return f.Type() == "joined" && f.Str("nickname") == nick("alice") })

		// Socket.IO → native, with the ack carrying the stored message.
		ack := alice.mustCall("send", map[string]any{"room": "lobby", "text": "hi from " + nick("alice"), "client_id": "c1"})
		msg, _ := ack["msg"].(map[string]any)
		if msg["from"] != nick("alice") || msg["seq"] == nil || msg["client_id"] != "c1" {
			t.Errorf("send ack = %v", ack)
		}
		got := native.Expect(func(f wstest.Frame) bool {
			return f.Type() == "message" && f.Msg().Str("text") == "hi from "+nick("alice")
		})
		if got.Msg().Str("from") != nick("alice") {
			t.Errorf("native got %v", got)
		}
		// Native → Socket.IO, rendered.
		native.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "**hello** " + nick("alice")})
		m := alice.event("message", msgText("**hello** "+nick("alice")))
		if m["from"] != "nat" || m["html"] != "<p><strong>hello</strong> "+nick("alice")+"</p>" {
			t.Errorf("Socket.IO client got %v", m)
		}
		// Resending with the same client_id is acknowledged with the
		// original message and delivers nothing twice.
		again := alice.mustCall("send", map[string]any{"room": "lobby", "text": "hi from " + nick("alice"), "client_id": "c1"})
		if again["duplicate"] != true || again["msg"].(map[string]any)["seq"] != msg["seq"] {
			t.Errorf("resend ack = %v; want the original message, duplicate", again)
		}

		// DMs reach their two people only.
		bob := s.sio(v, tr, "/")
		bob.mustCall("hello", map[string]any{"nickname": nick("bob")})
		eve := s.sio(v, tr, "/")
		eve.mustCall("hello", map[string]any{"nickname": nick("eve")})
		eve.mustCall("join", map[string]any{"room": "lobby"})
		alice.mustCall("dm", map[string]any{"to": nick("bob"), "text": "secret " + nick("bob")})
		if dm := bob.event("message", msgText("secret "+nick("bob"))); dm["from"] != nick("alice") || dm["to"] != nick("bob") {
			t.Errorf("bob got %v", dm)
		}
		alice.event("message", msgText("secret "+nick("bob"))) // the sender's own copy
		native.MustOK(map[string]any{"type": "dm", "to": nick("bob"), "text": "native secret"})
		bob.event("message", msgText("native secret"))
		// eve reads nothing of it, not even through history.
		h := eve.call("history", map[string]any{"with": nick("alice")})
		if h["type"] != "history" || fmt.Sprint(h["messages"]) != "[]" {
			t.Errorf("eve's history with alice = %v; want none", h)
		}
		marker := "after the secrets " + nick("x")
		native.MustOK(map[string]any{"type": "send", "room": "lobby", "text": marker})
		eve.event("message", msgText(marker))
		eve.noEvent(200*time.Millisecond, "message", func(m map[string]any) bool { return strings.Contains(str(m["text"]), "secret") })

		// Presence and typing cross protocols.
		typist := s.client(nick("typist"))
		typist.Join("lobby")
		typist.Send(map[string]any{"type": "typing", "room": "lobby"})
		alice.event("typing", func(m map[string]any) bool { return m["nickname"] == nick("typist") && m["room"] == "lobby" })
		alice.mustCall("leave", map[string]any{"room": "lobby"})
		native.Expect(func(f wstest.Frame) bool { return f.Type() == "left" && f.Str("nickname") == nick("alice") })
		eve.event("presence", func(m map[string]any) bool { return m["nickname"] == nick("alice") && m["state"] == "left" })
		// Resume: back in the room with what was missed.
		native.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "missed " + nick("alice")})
		r := alice.mustCall("resume", map[string]any{"room": "lobby", "after": msg["seq"]})
		if r["type"] != "history" || !strings.Contains(fmt.Sprint(r["messages"]), "missed "+nick("alice")) {
			t.Errorf("resume = %v", r)
		}
		native.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "live again " + nick("alice")})
		alice.event("message", msgText("live again "+nick("alice")))
	})
}

func TestSocketIONamespaceChatAndBadPayloads(t *testing.T) {
	s := startServer(t, "--socketio-namespaces", "/chat", "--rate", "1000", "--burst", "1000")
	native := s.client("nat")
	native.Join("lobby")
	eachSocketIOClient(t, s, func(t *testing.T, s *server, v, tr string) { badPayloads(t, s, native, v, tr) })
}

// badPayloads checks, for one client version and transport, that bad
// events get clear errors while the server and the others carry on.
func badPayloads(t *testing.T, s *server, native *wstest.Client, v, tr string) {
	c := s.sio(v, tr, "/chat")
	other := s.sio(v, "websocket", "/")
	nick := "ns" + v + tr[:2]
	c.mustCall("hello", map[string]any{"nickname": nick})
	c.mustCall("join", map[string]any{"room": "lobby"})
	other.mustCall("hello", map[string]any{"nickname": "other" + v + tr[:2]})
	other.mustCall("join", map[string]any{"room": "lobby"})

	// Bad payloads get errors, in the ack when there is one.
	for _, bad := range []struct {
		name    string
		payload []any
		code    string
	}{
		{"send", []any{map[string]any{"room": 5, "text": []any{"x"}}}, "invalid"},
		{"send", []any{map[string]any{"room": "lobby"}}, "missing_field"},
		{"send", []any{map[string]any{"room": "lobby", "text": strings.Repeat("long ", 5000)}}, "too_large"},
		{"send", []any{map[string]any{"room": "lobby", "text": "   "}}, "missing_field"},
		{"send", []any{"just a string"}, "bad_json"},
		{"send", []any{map[string]any{"room": "lobby", "text": "a"}, "extra"}, "bad_json"},
		{"join", []any{map[string]any{"room": "no spaces allowed"}}, "invalid"},
		{"dm", []any{map[string]any{"to": "nobody-here", "text": "hi"}}, "unknown_user"},
		{"frobnicate", []any{map[string]any{}}, "unknown_type"},
		{"history", []any{map[string]any{"room": "garden"}}, "not_joined"},
	} {
		r := c.call(bad.name, bad.payload...)
		if r["type"] != "error" || r["code"] != bad.code || str(r["message"]) == "" {
			t.Errorf("%s %.60v: ack %v; want error %s with a message", bad.name, bad.payload, r, bad.code)
		}
	}
	// Without an ack callback, the error comes as an error event.
	c.emit("frobnicate", map[string]any{})
	if e := c.event("error", anyEvent); e["code"] != "unknown_type" {
		t.Errorf("error event %v", e)
	}
	c.emit("send", map[string]any{"room": "lobby"})
	if e := c.event("error", anyEvent); e["code"] != "missing_field" {
		t.Errorf("error event %v", e)
	}
	// The server and the others carry on.
	c.mustCall("send", map[string]any{"room": "lobby", "text": "still here " + nick})
	other.event("message", msgText("still here "+nick))
	native.Expect(func(f wstest.Frame) bool { return f.Type() == "message" && f.Msg().Str("text") == "still here "+nick })
	// Commands before hello are refused.
	late := s.sio(v, tr, "/chat")
	if r := late.call("join", map[string]any{"room": "lobby"}); r["code"] != "not_authenticated" {
		t.Errorf("join before hello: %v", r)
	}
}

func TestSocketIOTutorialStyleMapping(t *testing.T) {
	s := startServer(t, "--socketio-compat-namespace", "/test",
		"--socketio-compat-in", "my broadcast event", "--socketio-compat-out", "my response")
	native := s.client("nat")
	native.Join("lobby")
	eachSocketIOClient(t, s, func(t *testing.T, s *server, v, tr string) {
		page := s.sio(v, tr, "/test")
		// The page posts {data: text} to the lobby…
		text := "from a tutorial page " + v + tr
		page.emit("my broadcast event", map[string]any{"data": text})
		got := native.Expect(func(f wstest.Frame) bool { return f.Type() == "message" && f.Msg().Str("text") == text })
		if !strings.HasPrefix(got.Msg().Str("from"), "guest-") {
			t.Errorf("the page's message comes from %q; want a guest nickname", got.Msg().Str("from"))
		}
		// …sees it come back, and gets the lobby's messages as {data}
		// with the text unmodified.
		page.event("my response", func(m map[string]any) bool { return m["data"] == text })
		native.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "**not** rendered <b> " + v + tr})
		page.event("my response", func(m map[string]any) bool { return m["data"] == "**not** rendered <b> "+v+tr && m["from"] == "nat" })
		// Anything else is an error, and nothing else is sent.
		page.emit("send", map[string]any{"room": "lobby", "text": "x"})
		if e := page.event("error", anyEvent); e["code"] != "unknown_type" {
			t.Errorf("error event %v", e)
		}
		page.noEvent(200*time.Millisecond, "message", anyEvent)
	})
}

func TestSocketIOOriginPolicy(t *testing.T) {
	s := startServer(t, "--allowed-origins", "https://friend.example")
	for _, c := range []struct {
		origin string
		ok     bool
	}{{"", true}, {"https://friend.example", true}, {"https://evil.example", false}, {s.URL(), true}} {
		req, _ := newRequest("GET", s.URL()+"/socket.io/?EIO=4&transport=polling", c.origin)
		resp, err := doRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 200, false: 403}[c.ok]; resp.StatusCode != want {
			t.Errorf("origin %q: status %d; want %d", c.origin, resp.StatusCode, want)
		}
		if !c.ok && resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("origin %q refused but reflected in Access-Control-Allow-Origin", c.origin)
		}
		if c.ok && c.origin != "" && resp.Header.Get("Access-Control-Allow-Origin") != c.origin {
			t.Errorf("origin %q: Access-Control-Allow-Origin %q", c.origin, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

func TestSocketIOEncodesEachRoomEventOncePerNamespace(t *testing.T) {
	s := startServer(t, "--rate", "1000", "--burst", "1000")
	var clients []*sioClient
	for i := 0; i < 12; i++ {
		nsp := "/"
		if i%2 == 1 {
			nsp = "/chat"
		}
		c := s.sio("4", "websocket", nsp)
		c.mustCall("hello", map[string]any{"nickname": fmt.Sprintf("fan%d", i)})
		c.mustCall("join", map[string]any{"room": "lobby"})
		clients = append(clients, c)
	}
	native := s.client("sender")
	native.Join("lobby")
	for _, c := range clients {
		c.event("presence", func(m map[string]any) bool { return m["nickname"] == "sender" })
	}
	before := s.Main.sio.Stats().EventEncodes
	const n = 5
	for i := 0; i < n; i++ {
		native.MustOK(map[string]any{"type": "send", "room": "lobby", "text": fmt.Sprintf("fan-out %d", i)})
	}
	for _, c := range clients {
		c.event("message", msgText(fmt.Sprintf("fan-out %d", n-1)))
	}
	if got := s.Main.sio.Stats().EventEncodes - before; got != 2*n {
		t.Errorf("%d messages to 12 sockets in 2 namespaces were encoded %d times; want %d (once per namespace)", n, got, 2*n)
	}
}

func TestSocketIONonASCIIOverEveryTransport(t *testing.T) {
	s := startServer(t)
	native := s.client("nat")
	native.Join("lobby")
	eachSocketIOClient(t, s, func(t *testing.T, s *server, v, tr string) {
		c := s.sio(v, tr, "/")
		nick := "李" + v + tr[:2]
		c.mustCall("hello", map[string]any{"nickname": nick})
		c.mustCall("join", map[string]any{"room": "lobby"})
		text := "你好，世界 — ünïcödé 👋 " + v + tr
		ack := c.mustCall("send", map[string]any{"room": "lobby", "text": text})
		if ack["msg"].(map[string]any)["text"] != text {
			t.Errorf("ack %v", ack)
		}
		native.Expect(func(f wstest.Frame) bool { return f.Type() == "message" && f.Msg().Str("text") == text })
		back := "回复 " + v + tr + " – ok"
		native.MustOK(map[string]any{"type": "send", "room": "lobby", "text": back})
		c.event("message", msgText(back))
		if r := c.call("join", map[string]any{"room": "no spaces"}); r["code"] != "invalid" {
			t.Errorf("error with a non-ASCII message: %v", r)
		}
	})
}

func TestSocketIOShutdownTellsClientsAndClosesTheTransport(t *testing.T) {
	s := startServer(t)
	var clients []*sioClient
	for _, v := range sioVersions {
		c := s.sio(v, "websocket", "/")
		c.mustCall("hello", map[string]any{"nickname": "bye" + v})
		clients = append(clients, c)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, c := range clients {
		if e := c.event("error", anyEvent); e["code"] != "unavailable" {
			t.Errorf("%s: error event %v; want unavailable", c.name, e)
		}
		// "transport close": the client's own reconnection takes over.
		d := c.next(func(m map[string]any) bool { return m["ev"] == "disconnect" })
		if d["reason"] != "transport close" {
			t.Errorf("%s: disconnect reason %v; want transport close", c.name, d["reason"])
		}
	}
}
