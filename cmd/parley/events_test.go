package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-chat/parley/internal/wstest"
)

func TestPresenceJoinedAndLeft(t *testing.T) {
	s := startServer(t)
	alice, bob := s.client("alice"), s.client("")
	bobToken := bob.Hello("bob").Str("token")
	alice.Join("lobby")
	if ack := bob.Join("lobby"); fmt.Sprint(ack["members"]) != "[alice bob]" {
		t.Errorf("join ack members = %v; want [alice bob]", ack["members"])
	}
	alice.Expect(func(f wstest.Frame) bool {
		return f.Type() == "joined" && f.Str("nickname") == "bob" && f.Str("room") == "lobby"
	})

	// A second connection of bob's neither joins nor, leaving, leaves.
	bob2 := s.client("")
	bob2.MustOK(map[string]any{"type": "hello", "token": bobToken})
	bob2.Join("lobby")
	alice.ExpectNone(quiet, func(f wstest.Frame) bool { return f.Type() == "joined" && f.Str("nickname") == "bob" })
	bob2.MustOK(map[string]any{"type": "leave", "room": "lobby"})
	alice.ExpectNone(quiet, func(f wstest.Frame) bool { return f.Type() == "left" && f.Str("nickname") == "bob" })

	if p := alice.MustOK(map[string]any{"type": "presence", "room": "lobby"}); fmt.Sprint(p["members"]) != "[alice bob]" {
		t.Errorf("presence = %v; want [alice bob]", p["members"])
	}
	bob.Close()
	alice.Expect(func(f wstest.Frame) bool { return f.Type() == "left" && f.Str("nickname") == "bob" })
	if p := alice.MustOK(map[string]any{"type": "presence", "room": "lobby"}); fmt.Sprint(p["members"]) != "[alice]" {
		t.Errorf("presence after bob left = %v; want [alice]", p["members"])
	}
	rooms := alice.MustOK(map[string]any{"type": "rooms"})
	found := false
	for _, r := range rooms["rooms"].([]any) {
		r := r.(map[string]any)
		if r["name"] == "lobby" {
			found = true
			if r["members"].(float64) != 1 {
				t.Errorf("lobby members = %v; want 1", r["members"])
			}
		}
		if name := r["name"].(string); len(name) > 3 && name[:3] == "dm:" {
			t.Errorf("rooms lists a direct conversation: %v", name)
		}
	}
	if !found {
		t.Errorf("rooms = %v; want lobby listed", rooms)
	}
}

func TestTypingIsEphemeralAndRateLimited(t *testing.T) {
	s := startServer(t)
	alice, bob, carol := s.client("alice"), s.client("bob"), s.client("carol")
	alice.Join("lobby")
	bob.Join("lobby")
	alice.Send(map[string]any{"type": "typing", "room": "lobby"})
	alice.Send(map[string]any{"type": "typing", "room": "lobby"}) // within 2 s: dropped
	bob.Expect(func(f wstest.Frame) bool { return f.Type() == "typing" && f.Str("nickname") == "alice" })
	bob.ExpectNone(quiet, func(f wstest.Frame) bool { return f.Type() == "typing" })
	alice.ExpectNone(quiet, func(f wstest.Frame) bool { return f.Type() == "typing" })

	alice.Send(map[string]any{"type": "typing", "to": "carol"})
	carol.Expect(func(f wstest.Frame) bool { return f.Type() == "typing" && f.Str("room") == "dm:alice:carol" })
	bob.ExpectNone(quiet, func(f wstest.Frame) bool { return f.Type() == "typing" })

	if h := bob.MustOK(map[string]any{"type": "history", "room": "lobby"}); len(h["messages"].([]any)) != 0 {
		t.Errorf("typing was stored: %v", h["messages"])
	}
}

func TestMentionNotifiesThePersonWhereverTheyAre(t *testing.T) {
	s := startServer(t)
	alice, bob, carol := s.client("alice"), s.client("bob"), s.client("carol")
	alice.Join("lobby")
	bob.Join("elsewhere") // not in the lobby, still notified
	carol.Join("lobby")
	ack := alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "ping @Bob and @nobody, not `@carol`"})
	if got := fmt.Sprint(ack.Msg()["mentions"]); got != "[Bob nobody]" {
		t.Errorf("mentions = %s; want [Bob nobody]", got)
	}
	m := bob.ExpectType("mention").Msg()
	if m.Str("from") != "alice" || m.Str("room") != "lobby" {
		t.Errorf("mention = %v", m)
	}
	carol.ExpectNone(quiet, func(f wstest.Frame) bool { return f.Type() == "mention" })

	// A mention inside a direct message notifies nobody else.
	alice.MustOK(map[string]any{"type": "dm", "to": "carol", "text": "don't tell @bob"})
	bob.ExpectNone(quiet, func(f wstest.Frame) bool { return f.Type() == "mention" || f.Type() == "message" })
}

func TestMarkdownIsRenderedSafely(t *testing.T) {
	s := startServer(t)
	alice := s.client("alice")
	alice.Join("lobby")
	m := alice.MustOK(map[string]any{"type": "send", "room": "lobby",
		"text": "<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)> *it*"}).Msg()
	html := m.Str("html")
	for _, bad := range []string{"<script", "javascript:", "<img"} {
		if strings.Contains(html, bad) {
			t.Errorf("html %q contains %q", html, bad)
		}
	}
	if !strings.Contains(html, "&lt;script&gt;") || !strings.Contains(html, "<em>it</em>") {
		t.Errorf("html = %q; want escaped raw HTML and rendered emphasis", html)
	}
}

func TestAnnouncements(t *testing.T) {
	s := startServer(t, "--admin-token", "s3cret")
	alice, bob := s.client("alice"), s.client("bob")
	alice.Join("lobby")
	bob.Join("garden")
	url := s.URL() + "/api/announcements"

	for _, token := range []string{"", "wrong"} {
		status, body := post(t, url, token, map[string]any{"text": "nope"})
		if status != http.StatusUnauthorized || body["error"].(map[string]any)["code"] != "unauthorized" {
			t.Errorf("token %q: %d %v; want 401 unauthorized", token, status, body)
		}
	}
	alice.ExpectNone(quiet, func(f wstest.Frame) bool { return f.Type() == "announcement" })

	status, body := post(t, url, "s3cret", map[string]any{"text": "Maintenance at **noon**"})
	if status != http.StatusCreated {
		t.Fatalf("POST: %d %v; want 201", status, body)
	}
	for _, c := range []*wstest.Client{alice, bob} {
		a := c.ExpectType("announcement")["announcement"].(map[string]any)
		if a["text"] != "Maintenance at **noon**" || a["html"] != "<p>Maintenance at <strong>noon</strong></p>" {
			t.Errorf("announcement = %v", a)
		}
	}
	// Someone who arrives later gets the active announcement after welcome.
	late := s.client("")
	late.Hello("late")
	if a := late.ExpectType("announcement")["announcement"].(map[string]any); a["text"] != "Maintenance at **noon**" {
		t.Errorf("late announcement = %v", a)
	}
	if status, _ := post(t, url, "s3cret", map[string]any{"text": "  "}); status != http.StatusBadRequest {
		t.Errorf("empty announcement: %d; want 400", status)
	}
	if status, _ := post(t, url, "s3cret", map[string]any{"text": "x", "ttl": "soon"}); status != http.StatusBadRequest {
		t.Errorf("bad ttl: %d; want 400", status)
	}

	// The CLI posts through the same API.
	var out, errOut bytes.Buffer
	env := map[string]string{"PARLEY_SERVER": s.URL(), "PARLEY_ADMIN_TOKEN": "s3cret"}
	if code := run(t.Context(), []string{"announce", "from the CLI"}, &out, &errOut, func(k string) string { return env[k] }); code != 0 {
		t.Fatalf("parley announce: exit %d: %s", code, errOut.String())
	}
	alice.Expect(func(f wstest.Frame) bool {
		return f.Type() == "announcement" && f["announcement"].(map[string]any)["text"] == "from the CLI"
	})
	if code := run(t.Context(), []string{"announce", "--token", "wrong", "x"}, &out, &errOut, func(k string) string { return env[k] }); code == 0 {
		t.Error("parley announce with a wrong token: exit 0; want failure")
	}
}

func TestAdminAPIIsOffWithoutToken(t *testing.T) {
	s := startServer(t)
	if status, _ := post(t, s.URL()+"/api/announcements", "", map[string]any{"text": "x"}); status != http.StatusUnauthorized {
		t.Errorf("POST without a configured token: %d; want 401", status)
	}
}
