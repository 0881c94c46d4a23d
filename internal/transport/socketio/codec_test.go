package socketio

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

func TestCodecEncodesSocketIOPackets(t *testing.T) {
	var n atomic.Int64
	msg := &parley.Message{ID: 7, Room: "lobby", Seq: 3, From: "ada", Text: "hi <b>", HTML: "<p>hi &lt;b&gt;</p>", CreatedAt: time.UnixMilli(1000)}
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"message in /", newCodec("/", nil, &n, false).EncodeEvent(&parley.Event{Kind: parley.EventMessage, Message: msg}),
			`2["message",{"id":7,"room":"lobby","seq":3,"from":"ada","text":"hi <b>","html":"<p>hi &lt;b&gt;</p>","mentions":[],"ts":1000}]`},
		{"presence in /chat", newCodec("/chat", nil, &n, false).EncodeEvent(&parley.Event{Kind: parley.EventLeft, Room: "lobby", Nickname: "ada"}),
			`2/chat,["presence",{"room":"lobby","nickname":"ada","state":"left"}]`},
		{"typing", newCodec("/", nil, &n, false).EncodeEvent(&parley.Event{Kind: parley.EventTyping, Room: "dm:ada:bob", Nickname: "ada"}),
			`2["typing",{"room":"dm:ada:bob","nickname":"ada"}]`},
		{"error without ack", newCodec("/", nil, &n, false).EncodeError("", parley.Errorf(parley.ENotJoined, "join x first")),
			`2["error",{"type":"error","code":"not_joined","message":"join x first"}]`},
		{"reply without ack", newCodec("/", nil, &n, false).EncodeReply(&parley.Reply{Op: parley.OpLeave, Room: "x"}), ``},
		{"compat message", newCodec("/test", &Compat{Room: "lobby", OutEvent: "my response"}, &n, false).EncodeEvent(&parley.Event{Kind: parley.EventMessage, Message: msg}),
			`2/test,["my response",{"data":"hi <b>","from":"ada"}]`},
		{"compat skips other rooms", newCodec("/test", &Compat{Room: "lobby", OutEvent: "my response"}, &n, false).EncodeEvent(&parley.Event{Kind: parley.EventMessage, Message: &parley.Message{Room: "garden"}}), ``},
		{"compat skips presence", newCodec("/test", &Compat{Room: "lobby", OutEvent: "my response"}, &n, false).EncodeEvent(&parley.Event{Kind: parley.EventJoined, Room: "lobby", Nickname: "x"}), ``},
	} {
		if string(c.got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, c.got, c.want)
		}
	}
}

func TestAckFramesCarryTheRefAndTheNativeReply(t *testing.T) {
	var n atomic.Int64
	c := newCodec("/", nil, &n, false)
	frame := c.EncodeReply(&parley.Reply{Op: parley.OpLeave, Ref: "1z", Room: "garden"})
	ref, body, ok := parseAck(frame)
	if !ok || ref != "1z" || string(body) != `{"type":"ack","room":"garden"}` {
		t.Errorf("ack frame %q → %q %s %v", frame, ref, body, ok)
	}
	frame = c.EncodeError("2", &parley.Error{Code: parley.ERateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond})
	ref, body, ok = parseAck(frame)
	if !ok || ref != "2" || string(body) != `{"type":"error","code":"rate_limited","message":"slow down","retry_after_ms":1500}` {
		t.Errorf("error ack frame %q → %q %s %v", frame, ref, body, ok)
	}
	if _, _, ok := parseAck([]byte(`2["message",{}]`)); ok {
		t.Error("an event packet parsed as an ack frame")
	}
}

func TestEngineIO3ClientsGetASCIIOnlyJSON(t *testing.T) {
	var n atomic.Int64
	c := newCodec("/", nil, &n, true)
	got := c.EncodeEvent(&parley.Event{Kind: parley.EventTyping, Room: "大厅", Nickname: "李雷👋"})
	want := `2["typing",{"room":"\u5927\u5385","nickname":"\u674e\u96f7\ud83d\udc4b"}]`
	if string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	_, body, _ := parseAck(c.EncodeError("1", parley.Errorf(parley.EInvalid, "1–64")))
	if string(body) != `{"type":"error","code":"invalid","message":"1\u201364"}` {
		t.Errorf("error body %s", body)
	}
	if b := []byte(`{"a":"plain"}`); &asciiJSON(b)[0] != &b[0] {
		t.Error("ASCII JSON was copied")
	}
}

func TestUTF8EncodedTwiceIsRepairedAndOtherTextKept(t *testing.T) {
	for in, want := range map[string]string{
		"\u00e4\u00bd\u00a0\u00e5\u00a5\u00bd": "你好", // "你好" as socket.io-client 1.x sends it over polling
		"hi \u00f0\u009f\u0091\u008b":          "hi 👋",
		"café":                                 "café", // é alone is not UTF-8: kept
		"plain":                                "plain",
		"你好":                                   "你好", // already right: kept
		"Ångström":                             "Ångström",
	} {
		if got := fixString(in); got != want {
			t.Errorf("fixString(%q) = %q; want %q", in, got, want)
		}
	}
	m := undoUTF8Twice(map[string]any{"text": "\u00e4\u00bd\u00a0", "n": 1.0, "list": []any{"\u00c3\u00a9"}}).(map[string]any)
	if m["text"] != "你" || m["list"].([]any)[0] != "é" {
		t.Errorf("undoUTF8Twice: %v", m)
	}
}
