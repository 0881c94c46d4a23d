package parley_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-chat/parley"
)

func TestValidNickname(t *testing.T) {
	for _, tc := range []struct {
		nick string
		ok   bool
	}{
		{"alice", true},
		{"Bob_99", true},
		{"a.b-c", true},
		{"张伟", true},
		{"Zoë", true},
		{"x", true},
		{strings.Repeat("字", 32), true},
		{strings.Repeat("字", 33), false},
		{"", false},
		{"has space", false},
		{"a@b", false},
		{"a:b", false},
		{"<b>", false},
		{"\xff", false},
	} {
		if got := parley.ValidNickname(tc.nick); got != tc.ok {
			t.Errorf("ValidNickname(%q) = %v; want %v", tc.nick, got, tc.ok)
		}
	}
}

func TestDMKey(t *testing.T) {
	if got, want := parley.DMKey("Bob", "alice"), "dm:alice:bob"; got != want {
		t.Errorf("DMKey = %q; want %q", got, want)
	}
	if parley.DMKey("a", "b") != parley.DMKey("B", "A") {
		t.Error("DMKey depends on order or case")
	}
	a, b, ok := parley.DMParties("dm:alice:bob")
	if !ok || a != "alice" || b != "bob" {
		t.Errorf("DMParties = %q, %q, %v; want alice, bob, true", a, b, ok)
	}
	for _, bad := range []string{"lobby", "dm:", "dm:alice", "dm::bob"} {
		if _, _, ok := parley.DMParties(bad); ok {
			t.Errorf("DMParties(%q) ok; want not a DM key", bad)
		}
	}
	if parley.ValidRoom("dm:alice:bob") {
		t.Error("a DM key is a valid room name; rooms and conversations would collide")
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	err := parley.Errorf(parley.ENotJoined, "join %s first", "lobby")
	if parley.ErrorCode(err) != parley.ENotJoined || parley.ErrorMessage(err) != "join lobby first" {
		t.Errorf("code, message = %q, %q", parley.ErrorCode(err), parley.ErrorMessage(err))
	}
	wrapped := errorsJoin(err)
	if parley.ErrorCode(wrapped) != parley.ENotJoined {
		t.Errorf("wrapped code = %q; want not_joined", parley.ErrorCode(wrapped))
	}
	other := strings.NewReader("").UnreadByte()
	if parley.ErrorCode(other) != parley.EInternal || parley.ErrorMessage(other) != "internal error" {
		t.Errorf("plain error: %q, %q; want internal, no details", parley.ErrorCode(other), parley.ErrorMessage(other))
	}
	if parley.ErrorCode(nil) != "" {
		t.Error("ErrorCode(nil) is not empty")
	}
}

func errorsJoin(err error) error { return fmt.Errorf("store: %w", err) }
