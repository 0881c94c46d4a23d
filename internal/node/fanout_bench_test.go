package node

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/markup"
	"github.com/parley-chat/parley/internal/membroker"
	"github.com/parley-chat/parley/internal/protocol"
	"github.com/parley-chat/parley/internal/sqlite"
)

type nopOutbox struct{}

func (nopOutbox) Send([]byte) bool { return true }
func (nopOutbox) Close(error)      {}

type benchCodec struct{}

func (benchCodec) EncodeEvent(ev *parley.Event) []byte      { return protocol.EncodeEvent(ev) }
func (benchCodec) EncodeReply(r *parley.Reply) []byte       { return protocol.EncodeReply(r) }
func (benchCodec) EncodeError(ref string, err error) []byte { return protocol.EncodeError(ref, err) }

// BenchmarkFanOut: one message event to the 1,000 members of a room, as
// node.deliver does it (encode once, queue on each outbox). Reported per
// delivery; the fan-out itself allocates nothing per delivery.
func BenchmarkFanOut(b *testing.B) {
	for _, members := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(members), func(b *testing.B) {
			store, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlite.Options{Synchronous: "NORMAL"}) // setup speed; not measured
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			n := New(store, membroker.New(), markup.New(), Config{Rate: 1e9, Burst: 1 << 30})
			// Members put in the room directly: hello and join would cost a
			// store write each, and they are not what is measured.
			r := newRoom("lobby")
			sessions := make([]*Session, members)
			for i := range sessions {
				sessions[i] = n.Connect(nopOutbox{}, benchCodec{}, "bench")
				sessions[i].nick, sessions[i].key = fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", i)
			}
			n.mu.Lock()
			n.rooms["lobby"] = r
			for _, s := range sessions {
				r.addLocked(s)
			}
			n.mu.Unlock()
			msg := &parley.Message{ID: 1, Room: "lobby", Seq: 1, From: "m0", Text: "hello", HTML: "<p>hello</p>", CreatedAt: time.Now()}
			ev := &parley.Event{Kind: parley.EventMessage, Room: "lobby", Message: msg}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n.deliverRoom(&frameCache{}, ev)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/delivery")
		})
	}
}
