package protocol

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/parley-chat/parley"
)

// MaxRefLen is the longest "ref" a client may attach to a command.
const MaxRefLen = 64

// command is the JSON shape of every command; unknown fields are ignored so
// that newer clients can talk to older servers.
type command struct {
	Type     string `json:"type"`
	Ref      string `json:"ref"`
	Nickname string `json:"nickname"`
	Token    string `json:"token"`
	Room     string `json:"room"`
	To       string `json:"to"`
	With     string `json:"with"`
	Text     string `json:"text"`
	ClientID string `json:"client_id"`
	Before   int64  `json:"before"`
	After    int64  `json:"after"`
	Limit    int    `json:"limit"`
}

// required lists, per command, the fields that must be present and
// non-empty. A list of alternatives ("room|with") needs one of them.
var required = map[parley.Op][]string{
	parley.OpHello:    nil, // {} is a hello with the page's login cookie; node asks for a nickname without one
	parley.OpJoin:     {"room"},
	parley.OpLeave:    {"room"},
	parley.OpRooms:    nil,
	parley.OpSend:     {"room", "text"},
	parley.OpDirect:   {"to", "text"},
	parley.OpHistory:  {"room|with"},
	parley.OpResume:   {"room|with"},
	parley.OpPresence: {"room"},
	parley.OpTyping:   {"room|to"},

	parley.OpConversations: nil,
}

// Decode parses one frame into a Command. When it fails after the frame's
// "ref" could be read, the Command it returns carries that Ref so the error
// can still be matched to its request.
func Decode(frame []byte) (parley.Command, error) {
	var c command
	if !decodeFast(frame, &c) && json.Unmarshal(frame, &c) != nil {
		// Rare: look again, more slowly, for the clearest error.
		c = command{}
		dec := json.NewDecoder(bytes.NewReader(frame))
		if err := dec.Decode(&c); err != nil {
			return parley.Command{Ref: peekRef(frame)}, decodeError(err)
		}
		if dec.More() {
			return parley.Command{Ref: c.Ref}, parley.Errorf(parley.EBadJSON, "one JSON object per frame")
		}
		return parley.Command{Ref: c.Ref}, parley.Errorf(parley.EBadJSON, "invalid JSON")
	}
	if len(c.Ref) > MaxRefLen {
		return parley.Command{}, parley.Errorf(parley.EInvalid, "ref is longer than %d bytes", MaxRefLen)
	}
	cmd := parley.Command{
		Op: parley.Op(c.Type), Ref: c.Ref, Nickname: c.Nickname, Token: c.Token,
		Room: c.Room, To: c.To, Text: c.Text, ClientID: c.ClientID,
		Before: c.Before, After: c.After, Limit: c.Limit,
	}
	if c.Type == "" {
		return cmd, parley.Errorf(parley.EMissingField, "missing field: type")
	}
	need, ok := required[cmd.Op]
	if !ok {
		return cmd, parley.Errorf(parley.EUnknownType, "unknown command type %q", c.Type)
	}
	if (cmd.Op == parley.OpHistory || cmd.Op == parley.OpResume) && c.With != "" {
		cmd.To = c.With
	}
	if cmd.Before < 0 || cmd.After < 0 || cmd.Limit < 0 {
		return cmd, parley.Errorf(parley.EInvalid, "before, after and limit must not be negative")
	}
	for _, f := range need {
		if !present(&c, f) {
			return cmd, parley.Errorf(parley.EMissingField, "missing field: %s", f)
		}
	}
	return cmd, nil
}

func present(c *command, field string) bool {
	switch field {
	case "room|with":
		return c.Room != "" || c.With != "" || c.To != ""
	case "room|to":
		return c.Room != "" || c.To != ""
	case "room":
		return c.Room != ""
	case "to":
		return c.To != ""
	case "text":
		return c.Text != ""
	}
	return false
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return parley.Errorf(parley.EBadJSON, "a frame must be a JSON object")
		}
		return parley.Errorf(parley.EInvalid, "field %s: want %s, got %s", field, typeErr.Type, typeErr.Value)
	}
	return parley.Errorf(parley.EBadJSON, "invalid JSON: %s", trimJSONError(err))
}

func trimJSONError(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// peekRef returns the "ref" of a frame that failed to decode as a whole, if
// the frame is at least an object with a string ref.
func peekRef(frame []byte) string {
	var r struct {
		Ref json.RawMessage `json:"ref"`
	}
	if json.Unmarshal(frame, &r) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(r.Ref, &s) != nil || len(s) > MaxRefLen {
		return ""
	}
	return s
}
