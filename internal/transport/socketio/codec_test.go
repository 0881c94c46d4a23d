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
		{"message in /", newCodec("/", nil, &n).EncodeEvent(&parley.Event{Kind: parley.EventMessage, Message: msg}),
			`2["message",{"id":7,"room":"lobby","seq":3,"from":"ada","text":"hi <b>","html":"<p>hi &lt;b&gt;</p>","mentions":[],"ts":1000}]`},
		{"presence in /chat", newCodec("/chat", nil, &n).EncodeEvent(&parley.Event{Kind: parley.EventLeft, Room: "lobby", Nickname: "ada"}),
			`2/chat,["presence",{"room":"lobby","nickname":"ada","state":"left"}]`},
		{"typing", newCodec("/", nil, &n).EncodeEvent(&parley.Event{Kind: parley.EventTyping, Room: "dm:ada:bob", Nickname: "ada"}),
			`2["typing",{"room":"dm:ada:bob","nickname":"ada"}]`},
		{"error without ack", newCodec("/", nil, &n).EncodeError("", parley.Errorf(parley.ENotJoined, "join x first")),
			`2["error",{"type":"error","code":"not_joined","message":"join x first"}]`},
		{"reply without ack", newCodec("/", nil, &n).EncodeReply(&parley.Reply{Op: parley.OpLeave, Room: "x"}), ``},
		{"compat message", newCodec("/test", &Compat{Room: "lobby", OutEvent: "my response"}, &n).EncodeEvent(&parley.Event{Kind: parley.EventMessage, Message: msg}),
			`2/test,["my response",{"data":"hi <b>","from":"ada"}]`},
		{"compat skips other rooms", newCodec("/test", &Compat{Room: "lobby", OutEvent: "my response"}, &n).EncodeEvent(&parley.Event{Kind: parley.EventMessage, Message: &parley.Message{Room: "garden"}}), ``},
		{"compat skips presence", newCodec("/test", &Compat{Room: "lobby", OutEvent: "my response"}, &n).EncodeEvent(&parley.Event{Kind: parley.EventJoined, Room: "lobby", Nickname: "x"}), ``},
	} {
		if string(c.got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, c.got, c.want)
		}
	}
}

func TestAckFramesCarryTheRefAndTheNativeReply(t *testing.T) {
	var n atomic.Int64
	c := newCodec("/", nil, &n)
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
