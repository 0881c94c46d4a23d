package protocol_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/protocol"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		frame string
		want  parley.Command
	}{
		{`{"type":"hello","nickname":"alice","ref":"1"}`, parley.Command{Op: parley.OpHello, Nickname: "alice", Ref: "1"}},
		{`{"type":"hello","token":"t"}`, parley.Command{Op: parley.OpHello, Token: "t"}},
		{`{"type":"hello"}`, parley.Command{Op: parley.OpHello}}, // the login cookie may say who
		{`{"type":"join","room":"lobby"}`, parley.Command{Op: parley.OpJoin, Room: "lobby"}},
		{`{"type":"leave","room":"lobby"}`, parley.Command{Op: parley.OpLeave, Room: "lobby"}},
		{`{"type":"rooms"}`, parley.Command{Op: parley.OpRooms}},
		{`{"type":"send","room":"lobby","text":"hi","client_id":"c1"}`, parley.Command{Op: parley.OpSend, Room: "lobby", Text: "hi", ClientID: "c1"}},
		{`{"type":"dm","to":"bob","text":"hi"}`, parley.Command{Op: parley.OpDirect, To: "bob", Text: "hi"}},
		{`{"type":"history","room":"lobby","before":10,"limit":5}`, parley.Command{Op: parley.OpHistory, Room: "lobby", Before: 10, Limit: 5}},
		{`{"type":"history","with":"bob"}`, parley.Command{Op: parley.OpHistory, To: "bob"}},
		{`{"type":"history","room":"lobby","after":7}`, parley.Command{Op: parley.OpHistory, Room: "lobby", After: 7}},
		{`{"type":"conversations"}`, parley.Command{Op: parley.OpConversations}},
		{`{"type":"presence","room":"lobby"}`, parley.Command{Op: parley.OpPresence, Room: "lobby"}},
		{`{"type":"typing","room":"lobby"}`, parley.Command{Op: parley.OpTyping, Room: "lobby"}},
		{`{"type":"typing","to":"bob"}`, parley.Command{Op: parley.OpTyping, To: "bob"}},
		{`{"type":"send","room":"lobby","text":"hi","from":"mallory","future":[1]}`, parley.Command{Op: parley.OpSend, Room: "lobby", Text: "hi"}},
	} {
		got, err := protocol.Decode([]byte(tc.frame))
		if err != nil || got != tc.want {
			t.Errorf("Decode(%s) = %+v, %v; want %+v", tc.frame, got, err, tc.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	long := strings.Repeat("r", 65)
	for _, tc := range []struct {
		frame, code, ref, inMessage string
	}{
		{`not json`, parley.EBadJSON, "", ""},
		{``, parley.EBadJSON, "", ""},
		{`[1,2]`, parley.EBadJSON, "", ""},
		{`"hello"`, parley.EBadJSON, "", ""},
		{`null`, parley.EMissingField, "", "type"},
		{`{"type":"hello"}{"type":"hello"}`, parley.EBadJSON, "", ""},
		{`{"ref":"7"}`, parley.EMissingField, "7", "type"},
		{`{"type":"fly","ref":"7"}`, parley.EUnknownType, "7", "fly"},
		{`{"type":"join"}`, parley.EMissingField, "", "room"},
		{`{"type":"send","room":"lobby"}`, parley.EMissingField, "", "text"},
		{`{"type":"send","text":"x"}`, parley.EMissingField, "", "room"},
		{`{"type":"dm","text":"x"}`, parley.EMissingField, "", "to"},
		{`{"type":"history"}`, parley.EMissingField, "", "room"},
		{`{"type":"typing"}`, parley.EMissingField, "", "room"},
		{`{"type":"send","room":5,"text":"x","ref":"7"}`, parley.EInvalid, "7", "room"},
		{`{"type":"history","room":"a","limit":"ten"}`, parley.EInvalid, "", "limit"},
		{`{"type":"history","room":"a","limit":-1}`, parley.EInvalid, "", "negative"},
		{`{"type":"history","room":"a","after":-1}`, parley.EInvalid, "", "negative"},
		{`{"type":"history","room":"a","before":1.5}`, parley.EInvalid, "", "before"},
		{`{"type":7}`, parley.EInvalid, "", "type"},
		{`{"type":"rooms","ref":"` + long + `"}`, parley.EInvalid, "", "ref"},
	} {
		cmd, err := protocol.Decode([]byte(tc.frame))
		var pe *parley.Error
		if !errors.As(err, &pe) {
			t.Errorf("Decode(%s) = %v; want a *parley.Error", tc.frame, err)
			continue
		}
		if pe.Code != tc.code || cmd.Ref != tc.ref || !strings.Contains(pe.Message, tc.inMessage) {
			t.Errorf("Decode(%s) = %s %q ref %q; want %s mentioning %q, ref %q", tc.frame, pe.Code, pe.Message, cmd.Ref, tc.code, tc.inMessage, tc.ref)
		}
	}
}

func decodeFrame(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %s is not JSON: %v", b, err)
	}
	return f
}

var msg = &parley.Message{
	ID: 7, Room: "lobby", Seq: 3, From: "alice", Text: "a < b", HTML: "<p>a &lt; b</p>",
	ClientID: "c1", CreatedAt: time.UnixMilli(1_763_800_000_123),
}

func TestEncodeEvent(t *testing.T) {
	b := protocol.EncodeEvent(&parley.Event{Kind: parley.EventMessage, Room: "lobby", Message: msg})
	if strings.Contains(string(b), `\u003c`) {
		t.Errorf("HTML escaped in JSON: %s", b)
	}
	f := decodeFrame(t, b)
	m := f["msg"].(map[string]any)
	if f["type"] != "message" || m["id"] != 7.0 || m["seq"] != 3.0 || m["from"] != "alice" || m["room"] != "lobby" ||
		m["html"] != "<p>a &lt; b</p>" || m["ts"] != 1_763_800_000_123.0 || m["client_id"] != "c1" {
		t.Errorf("message frame = %s", b)
	}
	if mentions, ok := m["mentions"].([]any); !ok || len(mentions) != 0 {
		t.Errorf("mentions = %v; want [] (never null)", m["mentions"])
	}
	if _, ok := m["to"]; ok {
		t.Errorf("a room message has a to field: %s", b)
	}
	j := decodeFrame(t, protocol.EncodeEvent(&parley.Event{Kind: parley.EventJoined, Room: "lobby", Nickname: "bob"}))
	if j["type"] != "joined" || j["room"] != "lobby" || j["nickname"] != "bob" {
		t.Errorf("joined frame = %v", j)
	}
	a := decodeFrame(t, protocol.EncodeEvent(&parley.Event{Kind: parley.EventAnnouncement, Announcement: &parley.Announcement{
		ID: 1, Text: "x", HTML: "<p>x</p>", CreatedAt: time.UnixMilli(1000), ExpiresAt: time.UnixMilli(2000)}}))
	if ann := a["announcement"].(map[string]any); ann["expires"] != 2000.0 || ann["html"] != "<p>x</p>" {
		t.Errorf("announcement frame = %v", a)
	}
}

func TestEncodeReply(t *testing.T) {
	for _, tc := range []struct {
		reply parley.Reply
		check func(f map[string]any) bool
	}{
		{parley.Reply{Op: parley.OpHello, Ref: "1", Nickname: "alice", Token: "t"},
			func(f map[string]any) bool { return f["type"] == "welcome" && f["token"] == "t" && f["ref"] == "1" }},
		{parley.Reply{Op: parley.OpJoin, Room: "lobby"},
			func(f map[string]any) bool {
				m, ok := f["members"].([]any)
				return f["type"] == "ack" && ok && len(m) == 0 && f["last_seq"] == 0.0
			}},
		{parley.Reply{Op: parley.OpSend, Message: msg, Duplicate: true},
			func(f map[string]any) bool { return f["type"] == "ack" && f["duplicate"] == true && f["msg"] != nil }},
		{parley.Reply{Op: parley.OpHistory, Room: "lobby"},
			func(f map[string]any) bool {
				m, ok := f["messages"].([]any)
				return f["type"] == "history" && ok && len(m) == 0 && f["has_more"] == false
			}},
		{parley.Reply{Op: parley.OpRooms, Rooms: []parley.RoomInfo{{Name: "lobby", Members: 2, LastSeq: 9}}},
			func(f map[string]any) bool {
				r := f["rooms"].([]any)[0].(map[string]any)
				return f["type"] == "rooms" && r["name"] == "lobby" && r["members"] == 2.0 && r["last_seq"] == 9.0
			}},
		{parley.Reply{Op: parley.OpPresence, Room: "lobby", Members: []string{"a"}},
			func(f map[string]any) bool { return f["type"] == "presence" && len(f["members"].([]any)) == 1 }},
	} {
		b := protocol.EncodeReply(&tc.reply)
		if !tc.check(decodeFrame(t, b)) {
			t.Errorf("EncodeReply(%s) = %s", tc.reply.Op, b)
		}
	}
}

func TestEncodeError(t *testing.T) {
	f := decodeFrame(t, protocol.EncodeError("9", &parley.Error{Code: parley.ERateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond}))
	if f["type"] != "error" || f["ref"] != "9" || f["code"] != "rate_limited" || f["message"] != "slow down" || f["retry_after_ms"] != 1500.0 {
		t.Errorf("error frame = %v", f)
	}
	f = decodeFrame(t, protocol.EncodeError("", errors.New("disk on fire at /var/secret")))
	if f["code"] != "internal" || strings.Contains(f["message"].(string), "secret") {
		t.Errorf("internal error frame = %v; want code internal and no details", f)
	}
}

var knownOps = map[parley.Op]bool{
	parley.OpHello: true, parley.OpJoin: true, parley.OpLeave: true, parley.OpRooms: true, parley.OpSend: true,
	parley.OpDirect: true, parley.OpHistory: true, parley.OpPresence: true, parley.OpTyping: true,
	parley.OpConversations: true,
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","nickname":"alice"}`, `{"type":"send","room":"lobby","text":"hi","client_id":"1","ref":"r"}`,
		`{"type":"history","with":"bob","before":3}`, `{"type":"typing","to":"x"}`, `{`, `[]`, `null`, `{"type":1}`,
		`{"type":"send","room":{"a":1}}`, `{"type":"dm","to":"b","text":"\u0000"}`, "{\"type\":\"rooms\"}\n{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		cmd, err := protocol.Decode(frame)
		if err != nil {
			var pe *parley.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Decode(%q) error %v is not a *parley.Error", frame, err)
			}
			switch pe.Code {
			case parley.EBadJSON, parley.EUnknownType, parley.EMissingField, parley.EInvalid:
			default:
				t.Fatalf("Decode(%q) code %s", frame, pe.Code)
			}
			return
		}
		if !knownOps[cmd.Op] {
			t.Fatalf("Decode(%q) accepted op %q", frame, cmd.Op)
		}
		switch cmd.Op {
		case parley.OpSend:
			if cmd.Room == "" || cmd.Text == "" {
				t.Fatalf("send without room or text: %q", frame)
			}
		case parley.OpDirect:
			if cmd.To == "" || cmd.Text == "" {
				t.Fatalf("dm without to or text: %q", frame)
			}
		}
		if len(cmd.Ref) > protocol.MaxRefLen || cmd.Before < 0 || cmd.Limit < 0 {
			t.Fatalf("Decode(%q) = %+v", frame, cmd)
		}
	})
}

func BenchmarkEncodeEvent(b *testing.B) {
	ev := &parley.Event{Kind: parley.EventMessage, Room: "lobby", Message: msg}
	b.ReportAllocs()
	for b.Loop() {
		protocol.EncodeEvent(ev)
	}
}

func BenchmarkDecode(b *testing.B) {
	frame := []byte(`{"type":"send","room":"lobby","text":"hello there","client_id":"c-123","ref":"42"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}
