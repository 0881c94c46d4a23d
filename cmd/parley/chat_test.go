package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/wstest"
)

func TestRoomMessageReachesEveryMemberAndNobodyElse(t *testing.T) {
	s := startServer(t)
	alice, bob, carol := s.client("alice"), s.client("bob"), s.client("carol")
	alice.Join("lobby")
	bob.Join("lobby")
	carol.Join("garden")

	ack := alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "hi **all**", "client_id": "c1"})
	if ack.Type() != "ack" {
		t.Fatalf("reply type = %q; want ack", ack.Type())
	}
	m := ack.Msg()
	if m.Str("from") != "alice" || m.Str("room") != "lobby" || m.Num("seq") != 1 || m.Str("client_id") != "c1" {
		t.Errorf("ack msg = %v; want from alice, room lobby, seq 1, client_id c1", m)
	}
	if m.Str("html") != "<p>hi <strong>all</strong></p>" {
		t.Errorf("html = %q; want rendered markdown", m.Str("html"))
	}
	if m.Num("id") == 0 || m.Num("ts") == 0 {
		t.Errorf("ack msg = %v; want id and ts set", m)
	}
	for _, c := range []*wstest.Client{alice, bob} {
		got := c.Expect(isMessage("hi **all**")).Msg()
		if got.Num("id") != m.Num("id") {
			t.Errorf("delivered id = %d; want %d", got.Num("id"), m.Num("id"))
		}
	}
	carol.ExpectNone(quiet, anyMessage)
}

func TestSequenceNumbersArePerRoom(t *testing.T) {
	s := startServer(t)
	alice := s.client("alice")
	alice.Join("a")
	alice.Join("b")
	for i := 1; i <= 3; i++ {
		for _, room := range []string{"a", "b"} {
			m := alice.MustOK(map[string]any{"type": "send", "room": room, "text": fmt.Sprint(i)}).Msg()
			if m.Num("seq") != int64(i) {
				t.Errorf("room %s message %d: seq = %d; want %d", room, i, m.Num("seq"), i)
			}
		}
	}
}

func TestForgedSenderChangesNothing(t *testing.T) {
	s := startServer(t)
	alice, bob := s.client("alice"), s.client("bob")
	alice.Join("lobby")
	bob.Join("lobby")
	alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "I am bob", "from": "bob", "nickname": "bob", "sender": "bob"})
	if got := bob.Expect(isMessage("I am bob")).Msg().Str("from"); got != "alice" {
		t.Errorf("from = %q; want alice (the session's nickname)", got)
	}
	// Nor can a second hello change who one is.
	if f := alice.Request(map[string]any{"type": "hello", "nickname": "bob"}); f.Str("code") != "already_authenticated" {
		t.Errorf("second hello: %v; want already_authenticated", f)
	}
}

func TestDirectMessageReachesExactlyItsTwoPeople(t *testing.T) {
	s := startServer(t)
	alice, bob, eve := s.client("alice"), s.client("bob"), s.client("eve")
	for _, c := range []*wstest.Client{alice, bob, eve} {
		c.Join("lobby")
	}
	ack := alice.MustOK(map[string]any{"type": "dm", "to": "Bob", "text": "secret", "client_id": "d1"})
	key := ack.Msg().Str("room")
	if key != "dm:alice:bob" || ack.Msg().Str("to") != "bob" {
		t.Fatalf("dm ack msg = %v; want room dm:alice:bob, to bob", ack.Msg())
	}
	alice.Expect(isMessage("secret"))
	bob.Expect(isMessage("secret"))
	eve.ExpectNone(quiet, func(f wstest.Frame) bool { return f.Type() == "message" || f.Type() == "mention" })

	// No command lets a third person read it.
	for _, cmd := range []map[string]any{
		{"type": "history", "room": key},
		{"type": "history", "room": "DM:Alice:Bob"},
		{"type": "join", "room": key},
		{"type": "presence", "room": key},
		{"type": "send", "room": key, "text": "let me in"},
		{"type": "typing", "room": key},
	} {
		f := eve.Request(cmd)
		if f.Type() != "error" {
			t.Errorf("eve %v: %v; want an error", cmd, f)
		}
	}
	if f := eve.MustOK(map[string]any{"type": "history", "with": "bob"}); len(f["messages"].([]any)) != 0 {
		t.Errorf("eve's own conversation with bob = %v; want empty", f["messages"])
	}
	// Both people can read it.
	for _, c := range []*wstest.Client{alice, bob} {
		f := c.MustOK(map[string]any{"type": "history", "room": key})
		if msgs := f["messages"].([]any); len(msgs) != 1 {
			t.Errorf("history for a party: %d messages; want 1", len(msgs))
		}
	}
	if f := bob.MustOK(map[string]any{"type": "history", "with": "alice"}); len(f["messages"].([]any)) != 1 {
		t.Errorf("bob history with alice = %v; want 1 message", f["messages"])
	}
}

func TestDirectMessageErrors(t *testing.T) {
	s := startServer(t)
	alice := s.client("alice")
	for _, tc := range []struct {
		to, code string
	}{
		{"nobody", "unknown_user"},
		{"alice", "invalid"},
		{"ALICE", "invalid"},
		{"bad name!", "invalid"},
	} {
		f := alice.Request(map[string]any{"type": "dm", "to": tc.to, "text": "x"})
		if f.Str("code") != tc.code {
			t.Errorf("dm to %q: %v; want code %s", tc.to, f, tc.code)
		}
	}
}

func TestOfflineRecipientGetsDirectMessageOnNextLogin(t *testing.T) {
	s := startServer(t)
	alice, bob := s.client("alice"), s.client("")
	token := bob.Hello("bob").Str("token")
	alice.Join("lobby")
	bob.Join("lobby")
	bob.Close()
	alice.Expect(func(f wstest.Frame) bool { return f.Type() == "left" && f.Str("nickname") == "bob" })

	alice.MustOK(map[string]any{"type": "dm", "to": "bob", "text": "while you were out"})
	alice.MustOK(map[string]any{"type": "dm", "to": "bob", "text": "and again"})

	back := s.client("")
	if w := back.MustOK(map[string]any{"type": "hello", "token": token}); w.Str("nickname") != "bob" {
		t.Fatalf("welcome = %v; want nickname bob", w)
	}
	first := back.ExpectType("message").Msg()
	second := back.ExpectType("message").Msg()
	if first.Str("text") != "while you were out" || second.Str("text") != "and again" {
		t.Errorf("pending DMs = %q, %q; want both, in order", first.Str("text"), second.Str("text"))
	}
	// Commands of a connection run in order: once this is answered, the
	// hello that delivered the messages has recorded the delivery.
	back.MustOK(map[string]any{"type": "rooms"})
	back.Close()
	// Delivered once: the next login brings nothing old.
	again := s.client("")
	again.MustOK(map[string]any{"type": "hello", "token": token})
	again.ExpectNone(quiet, anyMessage)
}

func TestNicknames(t *testing.T) {
	s := startServer(t)
	bob := s.client("")
	token := bob.Hello("Bob").Str("token")
	if token == "" {
		t.Fatal("welcome has no token")
	}
	for _, nick := range []string{"bob", "BOB", "Bob"} {
		if f := s.client("").Request(map[string]any{"type": "hello", "nickname": nick}); f.Str("code") != "nickname_taken" {
			t.Errorf("hello %q while Bob is online: %v; want nickname_taken", nick, f)
		}
	}
	// The token holder may open a second connection as the same person.
	second := s.client("")
	if w := second.MustOK(map[string]any{"type": "hello", "token": token}); w.Str("nickname") != "Bob" {
		t.Errorf("second connection nickname = %q; want Bob", w.Str("nickname"))
	}
	// An offline user's nickname stays theirs (the default hold is 7 days).
	bob.Close()
	second.Close()
	time.Sleep(quiet)
	if f := s.client("").Request(map[string]any{"type": "hello", "nickname": "bob"}); f.Str("code") != "nickname_taken" {
		t.Errorf("hello bob while Bob is offline but held: %v; want nickname_taken", f)
	}
	if f := s.client("").Request(map[string]any{"type": "hello", "token": "made-up"}); f.Str("code") != "bad_token" {
		t.Errorf("hello with a made-up token: %v; want bad_token", f)
	}
	for _, nick := range []string{"张伟", "a.b-c_d", "Zoë"} {
		if w := s.client("").Hello(nick); w.Str("nickname") != nick {
			t.Errorf("nickname %q: welcome %v", nick, w)
		}
	}
	for _, nick := range []string{"", " ", "has space", "<script>", "a@b", "1234567890123456789012345678901234"} {
		f := s.client("").Request(map[string]any{"type": "hello", "nickname": nick})
		if f.Type() != "error" {
			t.Errorf("hello %q: %v; want an error", nick, f)
		}
	}
}

func TestReleasedNicknameDoesNotInheritDirectMessages(t *testing.T) {
	s := startServer(t, "--nick-hold", "1ms")
	alice, bob := s.client("alice"), s.client("bob")
	alice.MustOK(map[string]any{"type": "dm", "to": "bob", "text": "for the first bob"})
	bob.Expect(isMessage("for the first bob"))
	bob.Close()
	time.Sleep(quiet)
	newBob := s.client("")
	newBob.Hello("bob")
	newBob.ExpectNone(quiet, anyMessage)
	if f := newBob.MustOK(map[string]any{"type": "history", "with": "alice"}); len(f["messages"].([]any)) != 0 {
		t.Errorf("new bob reads %v; want nothing of the old bob's", f["messages"])
	}
}
