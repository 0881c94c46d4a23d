package protocol

import (
	"strconv"
	"unicode/utf8"
)

// decodeFast parses the common shape of a command — one flat object whose
// keys are exactly the lower-case field names and whose values are plain
// strings (no escapes, valid UTF-8, no control characters) or, for before,
// after and limit, integers — without reflection, which made encoding/json
// a tenth of the server's CPU under load. Anything else (escapes, other
// keys or value types, odd spacing rules, errors) reports ok=false, and
// Decode takes encoding/json's path; a fuzz test checks that whatever this
// accepts, encoding/json decodes the same way.
func decodeFast(b []byte, c *command) (ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		key, next, ok := plainString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return false
		}
		if b[i] == '"' {
			val, next, ok := plainString(b, i)
			if !ok {
				return false
			}
			var field *string
			switch key {
			case "type":
				field = &c.Type
			case "ref":
				field = &c.Ref
			case "nickname":
				field = &c.Nickname
			case "token":
				field = &c.Token
			case "room":
				field = &c.Room
			case "to":
				field = &c.To
			case "with":
				field = &c.With
			case "text":
				field = &c.Text
			case "client_id":
				field = &c.ClientID
			default:
				return false
			}
			*field = val
			i = next
		} else {
			end := i
			if end < len(b) && b[end] == '-' {
				end++
			}
			start := end
			for end < len(b) && b[end] >= '0' && b[end] <= '9' {
				end++
			}
			if end == start || end-start > 1 && b[start] == '0' {
				return false // not an integer, or a leading zero (invalid JSON)
			}
			n, err := strconv.ParseInt(string(b[i:end]), 10, 64)
			if err != nil {
				return false
			}
			switch key {
			case "before":
				c.Before = n
			case "after":
				c.After = n
			case "limit":
				if int64(int(n)) != n {
					return false
				}
				c.Limit = int(n)
			default:
				return false
			}
			i = end
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// plainString reads the JSON string starting at b[i] if it needs no
// decoding: no backslash, no control character, valid UTF-8.
func plainString(b []byte, i int) (s string, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch ch := b[j]; {
		case ch == '"':
			raw := b[i+1 : j]
			if !ascii && !utf8.Valid(raw) {
				return "", 0, false
			}
			return string(raw), j + 1, true
		case ch == '\\' || ch < 0x20:
			return "", 0, false
		case ch >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
