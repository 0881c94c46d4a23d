package socketio

import (
	"bytes"
	"encoding/json"
	"sync/atomic"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/protocol"
)

// codec encodes node's events, replies and errors for the sockets of one
// namespace. node encodes each event once per codec, so a room's event is
// encoded once for all its Socket.IO members in that namespace.
//
// Events become complete Socket.IO EVENT packets ("2/nsp,[name,payload]"),
// which the outbox hands to Engine.IO as they are. Replies and errors that
// answer an event with an acknowledgement become ack frames: ackMark, the
// ref, ackMark, the JSON body; the outbox calls the socket's ack callback
// with that body. Frames are opaque bytes to node.
type codec struct {
	prefix  []byte        // "2" or "2/chat,": the start of an EVENT packet in this namespace
	compat  *Compat       // non-nil in the tutorial-compatible namespace
	encodes *atomic.Int64 // events encoded, for Server.Stats
	// ascii escapes every non-ASCII character (\uXXXX), for Engine.IO 3
	// clients: socket.io-client 1.x decodes polling payloads as UTF-8 once
	// more, which fails on any non-ASCII character; escaped JSON reads the
	// same everywhere.
	ascii bool
}

// ackMark starts an ack frame. Socket.IO packets start with a digit.
const ackMark = 0

func newCodec(nsp string, compat *Compat, encodes *atomic.Int64, ascii bool) *codec {
	prefix := []byte("2")
	if nsp != "/" {
		prefix = append(append(prefix, nsp...), ',')
	}
	return &codec{prefix: prefix, compat: compat, encodes: encodes, ascii: ascii}
}

// Event names the server emits.
const (
	evMessage      = "message"
	evMention      = "mention"
	evPresence     = "presence"
	evTyping       = "typing"
	evAnnouncement = "announcement"
	evError        = "error"
)

// presence is the payload of a presence event.
type presence struct {
	Room     string `json:"room"`
	Nickname string `json:"nickname"`
	State    string `json:"state"` // "joined" or "left"
}

// typing is the payload of a typing event.
type typing struct {
	Room     string `json:"room"`
	Nickname string `json:"nickname"`
}

// compatMessage is what tutorial-style pages expect: {data: text}.
type compatMessage struct {
	Data string `json:"data"`
	From string `json:"from"`
}

// EncodeEvent implements node.Codec.
func (c *codec) EncodeEvent(ev *parley.Event) []byte {
	c.encodes.Add(1)
	if c.compat != nil {
		if ev.Kind == parley.EventMessage && ev.Message != nil && ev.Message.Room == c.compat.Room {
			return c.packet(c.compat.OutEvent, compatMessage{Data: ev.Message.Text, From: ev.Message.From})
		}
		return nil // such pages know one event only
	}
	switch ev.Kind {
	case parley.EventMessage:
		return c.packet(evMessage, protocol.WireMessage(ev.Message))
	case parley.EventMention:
		return c.packet(evMention, protocol.WireMessage(ev.Message))
	case parley.EventJoined:
		return c.packet(evPresence, presence{Room: ev.Room, Nickname: ev.Nickname, State: "joined"})
	case parley.EventLeft:
		return c.packet(evPresence, presence{Room: ev.Room, Nickname: ev.Nickname, State: "left"})
	case parley.EventTyping:
		return c.packet(evTyping, typing{Room: ev.Room, Nickname: ev.Nickname})
	case parley.EventAnnouncement:
		return c.packet(evAnnouncement, protocol.WireAnnouncement(ev.Announcement))
	case parley.EventDeleted:
		return c.packet(string(ev.Kind), protocol.WireMessage(ev.Message))
	case parley.EventAnnouncementDeleted:
		return c.packet(string(ev.Kind), protocol.WireAnnouncement(ev.Announcement))
	}
	if m, ok := protocol.WireModeration(ev); ok { // muted, unmuted, room.settings, role
		return c.packet(string(ev.Kind), m)
	}
	return nil
}

// EncodeReply implements node.Codec: a reply exists only as an ack.
func (c *codec) EncodeReply(r *parley.Reply) []byte {
	if r.Ref == "" {
		return nil // the event had no acknowledgement callback
	}
	reply := *r
	reply.Ref = ""
	return ackFrame(r.Ref, c.text(protocol.EncodeReply(&reply)))
}

// EncodeError implements node.Codec: the ack of the event that failed, or
// an error event when it had no acknowledgement callback.
func (c *codec) EncodeError(ref string, err error) []byte {
	body := c.text(protocol.EncodeError("", err))
	if ref == "" {
		return c.packet(evError, json.RawMessage(body))
	}
	return ackFrame(ref, body)
}

// packet encodes a Socket.IO EVENT packet.
func (c *codec) packet(name string, payload any) []byte {
	var b bytes.Buffer
	b.Grow(len(c.prefix) + len(name) + 256)
	b.Write(c.prefix)
	b.WriteString(`[`)
	b.Write(protocol.Marshal(name))
	b.WriteString(`,`)
	b.Write(protocol.Marshal(payload))
	b.WriteString(`]`)
	return c.text(b.Bytes())
}

// text returns JSON as this codec's clients read it.
func (c *codec) text(b []byte) []byte {
	if !c.ascii {
		return b
	}
	return asciiJSON(b)
}

// asciiJSON escapes the non-ASCII characters of JSON text as \uXXXX
// (surrogate pairs beyond the BMP). Outside strings JSON is ASCII, so the
// bytes can be scanned without parsing.
func asciiJSON(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < utf8.RuneSelf {
		i++
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, i, len(b)+len(b)/2)
	copy(out, b[:i])
	const hex = "0123456789abcdef"
	esc := func(r rune) {
		out = append(out, '\\', 'u', hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15])
	}
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			esc(hi)
			esc(lo)
		} else {
			esc(r)
		}
	}
	return out
}

func ackFrame(ref string, body []byte) []byte {
	b := make([]byte, 0, len(ref)+2+len(body))
	b = append(b, ackMark)
	b = append(b, ref...)
	b = append(b, ackMark)
	return append(b, body...)
}

// parseAck splits an ack frame into ref and body.
func parseAck(frame []byte) (ref string, body []byte, ok bool) {
	if len(frame) == 0 || frame[0] != ackMark {
		return "", nil, false
	}
	i := bytes.IndexByte(frame[1:], ackMark)
	if i < 0 {
		return "", nil, false
	}
	return string(frame[1 : 1+i]), frame[2+i:], true
}

// rawJSON hands already encoded JSON to the library's encoder (a named
// struct, so that the library does not take it for binary data).
type rawJSON struct{ b []byte }

// MarshalJSON implements json.Marshaler.
func (r rawJSON) MarshalJSON() ([]byte, error) { return r.b, nil }
