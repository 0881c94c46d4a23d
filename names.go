package parley

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on names.
const (
	MaxNicknameLen = 32 // characters (runes), not bytes
	MaxRoomLen     = 64
)

// ValidNickname reports whether s is an acceptable nickname: 1–32
// characters, each a letter (any script, CJK included), a digit, or one of
// "_-.".
func ValidNickname(s string) bool { return validName(s, MaxNicknameLen) }

// ValidRoom reports whether s is an acceptable room name: 1–64 characters of
// the same alphabet as nicknames. Room names are case-insensitive; use
// RoomKey to normalise them.
func ValidRoom(s string) bool { return validName(s, MaxRoomLen) }

func validName(s string, max int) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-.", r) {
			return false
		}
	}
	return true
}

// NickKey is the identity of a nickname: two nicknames with the same key are
// the same person ("Alice" and "alice").
func NickKey(nick string) string { return strings.ToLower(nick) }

// RoomKey normalises a room name.
func RoomKey(room string) string { return strings.ToLower(room) }

const dmPrefix = "dm:"

// DMKey returns the conversation key of the direct conversation between a
// and b: "dm:" and the two nickname keys in order, joined by ":". It cannot
// collide with a room name, which never contains ':'.
func DMKey(a, b string) string {
	a, b = NickKey(a), NickKey(b)
	if b < a {
		a, b = b, a
	}
	return dmPrefix + a + ":" + b
}

// IsDMKey reports whether room is a direct conversation key.
func IsDMKey(room string) bool { return strings.HasPrefix(room, dmPrefix) }

// DMParties returns the two nickname keys of a direct conversation key.
func DMParties(key string) (a, b string, ok bool) {
	if !IsDMKey(key) {
		return "", "", false
	}
	a, b, ok = strings.Cut(key[len(dmPrefix):], ":")
	return a, b, ok && a != "" && b != ""
}
