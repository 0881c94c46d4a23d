package protocol

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// slowEvent and slowReply are EncodeEvent and EncodeReply through
// encoding/json only, as before the hand-written encoder.
func slowEvent(ev *parley.Event) []byte {
	f := frame{Type: string(ev.Kind), Room: ev.Room, Nickname: ev.Nickname}
	if ev.Message != nil {
		f.Room = ""
		f.Message = wireMessage(ev.Message)
	}
	f.Announcement = WireAnnouncement(ev.Announcement)
	return marshal(&f)
}

func slowReply(r *parley.Reply) []byte {
	f := frame{Type: replyType[r.Op], Ref: r.Ref, Room: r.Room}
	f.Message, f.Duplicate = wireMessage(r.Message), r.Duplicate
	return marshal(&f)
}

var tricky = []string{
	"", "hello", `a "quoted" \ back\slash`, "<b>&amp;</b>", "tab\there\nnew\rline\b\f",
	"\x00\x01\x1f\x7f", "héllo wörld ✓ 🎉", "\u2028\u2029", "bad \xff\xfe utf8 \xc3",
	"\xe2\x80", "mixed \u2028 and <script>", "日本語のテキスト",
}

func randomString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return tricky[r.IntN(len(tricky))]
	}
	b := make([]byte, r.IntN(40))
	for i := range b {
		switch r.IntN(4) {
		case 0:
			b[i] = byte(r.IntN(256))
		default:
			b[i] = byte(0x20 + r.IntN(0x5f))
		}
	}
	return string(b)
}

func randomMessage(r *rand.Rand) *parley.Message {
	m := &parley.Message{
		ID: r.Int64N(1 << 40), Room: randomString(r), Seq: r.Int64N(1<<30) - 5, From: randomString(r),
		Text: randomString(r), HTML: randomString(r), ClientID: randomString(r),
		CreatedAt: time.UnixMilli(r.Int64N(1 << 42)),
	}
	if r.IntN(2) == 0 {
		m.To = randomString(r)
	}
	if r.IntN(3) == 0 {
		m.Mentions = []string{}
		for range r.IntN(3) {
			m.Mentions = append(m.Mentions, randomString(r))
		}
	}
	if r.IntN(5) == 0 {
		m.CreatedAt = time.Time{}
	}
	if r.IntN(4) == 0 {
		m.Deleted, m.DeletedBy = true, randomString(r)
	}
	return m
}

// TestFastEncodingMatchesJSON checks the hand-written message event and
// send ack against encoding/json, byte for byte.
func TestFastEncodingMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		ev := &parley.Event{Kind: parley.EventMessage, Room: randomString(r), Message: randomMessage(r)}
		if r.IntN(4) == 0 {
			ev.Nickname = randomString(r)
		}
		if got, want := EncodeEvent(ev), slowEvent(ev); !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
		rep := &parley.Reply{Op: parley.OpSend, Ref: randomString(r), Duplicate: r.IntN(2) == 0}
		if r.IntN(2) == 0 {
			rep.Op = parley.OpDirect
		}
		if r.IntN(5) != 0 {
			rep.Message = randomMessage(r)
		}
		if r.IntN(5) == 0 {
			rep.Room = randomString(r)
		}
		if got, want := EncodeReply(rep), slowReply(rep); !bytes.Equal(got, want) {
			t.Fatalf("reply %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// FuzzAppendString checks appendString against encoding/json for any
// string.
func FuzzAppendString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := &parley.Message{Text: s, HTML: s, Room: s, From: s, Mentions: []string{s}}
		ev := &parley.Event{Kind: parley.EventMessage, Message: m, Nickname: s}
		if got, want := EncodeEvent(ev), slowEvent(ev); !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}

func BenchmarkEncodeMessage(b *testing.B) {
	m := &parley.Message{ID: 123456, Room: "room-17", Seq: 4242, From: "publisher-3", Text: "hello there, this is a 64-byte message of the benchmark run xx", HTML: "<p>hello there, this is a 64-byte message of the benchmark run xx</p>", ClientID: "c-3-4242", CreatedAt: time.Now()}
	ev := &parley.Event{Kind: parley.EventMessage, Room: m.Room, Message: m}
	rep := &parley.Reply{Op: parley.OpSend, Ref: "r4242", Message: m}
	b.ReportAllocs()
	for b.Loop() {
		EncodeEvent(ev)
		EncodeReply(rep)
	}
}

// BenchmarkEncodeMessageJSON is BenchmarkEncodeMessage through
// encoding/json, as before the hand-written encoder.
func BenchmarkEncodeMessageJSON(b *testing.B) {
	m := &parley.Message{ID: 123456, Room: "room-17", Seq: 4242, From: "publisher-3", Text: "hello there, this is a 64-byte message of the benchmark run xx", HTML: "<p>hello there, this is a 64-byte message of the benchmark run xx</p>", ClientID: "c-3-4242", CreatedAt: time.Now()}
	ev := &parley.Event{Kind: parley.EventMessage, Room: m.Room, Message: m}
	rep := &parley.Reply{Op: parley.OpSend, Ref: "r4242", Message: m}
	b.ReportAllocs()
	for b.Loop() {
		slowEvent(ev)
		slowReply(rep)
	}
}
