package protocol

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/parley-chat/parley"
)

// Message is the JSON shape of a parley.Message.
type Message struct {
	ID       int64    `json:"id"`
	Room     string   `json:"room"`
	Seq      int64    `json:"seq"`
	From     string   `json:"from"`
	To       string   `json:"to,omitempty"`
	Text     string   `json:"text"`
	HTML     string   `json:"html"`
	Mentions []string `json:"mentions"`
	TS       int64    `json:"ts"` // server time, Unix milliseconds
	ClientID string   `json:"client_id,omitempty"`
	// Deleted marks a tombstone (text, html and mentions empty).
	Deleted   bool   `json:"deleted,omitempty"`
	DeletedBy string `json:"deleted_by,omitempty"`
}

// Announcement is the JSON shape of a parley.Announcement.
type Announcement struct {
	ID      int64  `json:"id"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
	TS      int64  `json:"ts"`
	Starts  int64  `json:"starts"` // shown from then on, Unix milliseconds
	Expires int64  `json:"expires"`
}

// RoomInfo is the JSON shape of a parley.RoomInfo.
type RoomInfo struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
	LastSeq int64  `json:"last_seq"`
	With    string `json:"with,omitempty"`
}

// frame is the JSON shape of everything the server sends. Fields are
// omitted when empty, except where a client must be able to rely on them.
type frame struct {
	Type         string        `json:"type"`
	Ref          string        `json:"ref,omitempty"`
	Code         string        `json:"code,omitempty"`
	Error        string        `json:"message,omitempty"`
	RetryAfterMS int64         `json:"retry_after_ms,omitempty"`
	Nickname     string        `json:"nickname,omitempty"`
	Token        string        `json:"token,omitempty"`
	Room         string        `json:"room,omitempty"`
	Members      *[]string     `json:"members,omitempty"`
	Count        *int          `json:"member_count,omitempty"`
	LastSeq      *int64        `json:"last_seq,omitempty"`
	Message      *Message      `json:"msg,omitempty"`
	Duplicate    bool          `json:"duplicate,omitempty"`
	Messages     *[]Message    `json:"messages,omitempty"`
	HasMore      *bool         `json:"has_more,omitempty"`
	Reset        bool          `json:"reset,omitempty"`
	Rooms        *[]RoomInfo   `json:"rooms,omitempty"`
	Announcement *Announcement `json:"announcement,omitempty"`
	Role         *string       `json:"role,omitempty"`
	Registered   bool          `json:"registered,omitempty"`
	SlowModeMS   *int64        `json:"slow_mode_ms,omitempty"`
	Until        *int64        `json:"until,omitempty"`
	Reason       string        `json:"reason,omitempty"`
}

// Moderation is the body of the muted, unmuted, room.settings and role
// events (the fields each kind uses; Socket.IO sends it as the event's
// argument).
type Moderation struct {
	Room       string  `json:"room,omitempty"`
	Nickname   string  `json:"nickname,omitempty"`
	Role       *string `json:"role,omitempty"`
	SlowModeMS *int64  `json:"slow_mode_ms,omitempty"`
	Until      *int64  `json:"until,omitempty"`
	Reason     string  `json:"reason,omitempty"`
}

// WireModeration returns the body of a muted, unmuted, room.settings or
// role event; ok is false for other kinds.
func WireModeration(ev *parley.Event) (m Moderation, ok bool) {
	m = Moderation{Room: ev.Room, Nickname: ev.Nickname}
	switch ev.Kind {
	case parley.EventMuted:
		var until int64
		if ev.Mute != nil {
			until, m.Reason = millis(ev.Mute.ExpiresAt), ev.Mute.Reason
			if m.Room == "" {
				m.Room, m.Nickname = ev.Mute.Room, ev.Mute.Nickname
			}
		}
		m.Until = &until
	case parley.EventUnmuted:
		if ev.Mute != nil && m.Room == "" {
			m.Room, m.Nickname = ev.Mute.Room, ev.Mute.Nickname
		}
	case parley.EventRoomSettings:
		var slow int64
		if ev.Settings != nil {
			slow = ev.Settings.SlowMode.Milliseconds()
		}
		m.SlowModeMS = &slow
	case parley.EventRole:
		role := string(ev.Role)
		m.Role = &role
	default:
		return m, false
	}
	return m, true
}

// Reply types on the wire, by command.
var replyType = map[parley.Op]string{
	parley.OpHello:    "welcome",
	parley.OpJoin:     "ack",
	parley.OpLeave:    "ack",
	parley.OpSend:     "ack",
	parley.OpDirect:   "ack",
	parley.OpRooms:    "rooms",
	parley.OpHistory:  "history",
	parley.OpPresence: "presence",
	parley.OpTyping:   "ack",

	parley.OpConversations: "conversations",
	parley.OpResume:        "history",
}

// EncodeEvent returns the frame of a pushed event.
func EncodeEvent(ev *parley.Event) []byte {
	if b := encodeMessageEvent(ev); b != nil {
		return b
	}
	f := frame{Type: string(ev.Kind), Room: ev.Room, Nickname: ev.Nickname}
	if ev.Message != nil {
		f.Room = ""
		f.Message = wireMessage(ev.Message)
	}
	f.Announcement = WireAnnouncement(ev.Announcement)
	if m, ok := WireModeration(ev); ok {
		f.Room, f.Nickname, f.Role, f.SlowModeMS, f.Until, f.Reason = m.Room, m.Nickname, m.Role, m.SlowModeMS, m.Until, m.Reason
	}
	return marshal(&f)
}

// WireMessage returns the JSON shape of m, or nil for nil. Other wire
// formats (Socket.IO) carry the same shape.
func WireMessage(m *parley.Message) *Message { return wireMessage(m) }

// WireAnnouncement returns the JSON shape of a, or nil for nil.
func WireAnnouncement(a *parley.Announcement) *Announcement {
	if a == nil {
		return nil
	}
	starts := a.StartsAt
	if starts.IsZero() {
		starts = a.CreatedAt
	}
	return &Announcement{ID: a.ID, Text: a.Text, HTML: a.HTML, TS: millis(a.CreatedAt), Starts: millis(starts), Expires: millis(a.ExpiresAt)}
}

// Marshal encodes v as JSON the way every frame is encoded: without
// escaping <, > and &, and without a trailing newline.
func Marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("protocol: marshal: " + err.Error()) // only plain data is passed here
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// EncodeReply returns the frame answering a command that succeeded.
func EncodeReply(r *parley.Reply) []byte {
	if b := encodeSendReply(r); b != nil {
		return b
	}
	f := frame{Type: replyType[r.Op], Ref: r.Ref, Room: r.Room}
	switch r.Op {
	case parley.OpHello:
		f.Nickname, f.Token, f.Registered = r.Nickname, r.Token, r.Reg
		if r.Role != parley.RoleUser {
			role := string(r.Role)
			f.Role = &role
		}
	case parley.OpJoin:
		f.Count, f.LastSeq = &r.Count, &r.LastSeq
		if r.SlowMode > 0 {
			slow := r.SlowMode.Milliseconds()
			f.SlowModeMS = &slow
		}
		if r.Members != nil || r.Count == 0 {
			f.Members = nonNil(r.Members) // omitted for a room above the presence limit
		}
	case parley.OpPresence:
		f.Members, f.Count = nonNil(r.Members), &r.Count
	case parley.OpSend, parley.OpDirect:
		f.Message, f.Duplicate = wireMessage(r.Message), r.Duplicate
	case parley.OpHistory, parley.OpResume:
		f.Reset = r.Reset
		msgs := make([]Message, len(r.Messages))
		for i := range r.Messages {
			msgs[i] = *wireMessage(&r.Messages[i])
		}
		f.Messages, f.HasMore = &msgs, &r.HasMore
	case parley.OpRooms, parley.OpConversations:
		rooms := make([]RoomInfo, len(r.Rooms))
		for i, ri := range r.Rooms {
			rooms[i] = RoomInfo{Name: ri.Name, Members: ri.Members, LastSeq: ri.LastSeq, With: ri.With}
		}
		f.Rooms = &rooms
	}
	return marshal(&f)
}

// EncodeError returns the error frame for err, answering the command with
// ref (which may be empty).
func EncodeError(ref string, err error) []byte {
	f := frame{
		Type: "error", Ref: ref,
		Code: parley.ErrorCode(err), Error: parley.ErrorMessage(err),
		RetryAfterMS: parley.ErrorRetryAfter(err).Milliseconds(),
	}
	return marshal(&f)
}

func wireMessage(m *parley.Message) *Message {
	if m == nil {
		return nil
	}
	mentions := m.Mentions
	if mentions == nil {
		mentions = []string{}
	}
	return &Message{
		ID: m.ID, Room: m.Room, Seq: m.Seq, From: m.From, To: m.To,
		Text: m.Text, HTML: m.HTML, Mentions: mentions,
		TS: millis(m.CreatedAt), ClientID: m.ClientID,
		Deleted: m.Deleted, DeletedBy: m.DeletedBy,
	}
}

func nonNil(s []string) *[]string {
	if s == nil {
		s = []string{}
	}
	return &s
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// marshal encodes f without escaping <, > and & (frames carry HTML, and
// escaping it would only make them larger: JSON strings are not HTML).
func marshal(f *frame) []byte { return Marshal(f) }
