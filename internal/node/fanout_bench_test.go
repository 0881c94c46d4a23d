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

// nopBatchOutbox takes batches the way the WebSocket transport does: it
// joins them once (Batch.Joined) and keeps nothing.
type nopBatchOutbox struct{ nopOutbox }

func (nopBatchOutbox) SendBatch(b *Batch) bool {
	_ = b.Joined(func(frames [][]byte) []byte {
		var n int
		for _, f := range frames {
			n += len(f)
		}
		return make([]byte, 0, n)
	})
	return true
}

type benchCodec struct{}

func (benchCodec) EncodeEvent(ev *parley.Event) []byte      { return protocol.EncodeEvent(ev) }
func (benchCodec) EncodeReply(r *parley.Reply) []byte       { return protocol.EncodeReply(r) }
func (benchCodec) EncodeError(ref string, err error) []byte { return protocol.EncodeError(ref, err) }

// BenchmarkFanOut: a batch of message events (1, or 16 as a busy room
// gathers in its window) to every member of a room, as the room's fan-out
// goroutine does it (encode each event once, join the batch once, one
// SendBatch per member). Reported per delivery (event × member); the
// fan-out allocates nothing per delivery, only per event and per batch.
func BenchmarkFanOut(b *testing.B) {
	for _, bc := range []struct{ members, events int }{{100, 1}, {1000, 1}, {10000, 1}, {100, 16}, {1000, 16}, {10000, 16}} {
		members := bc.members
		b.Run(fmt.Sprintf("members=%d/events=%d", members, bc.events), func(b *testing.B) {
			store, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlite.Options{Synchronous: "NORMAL"}) // setup speed; not measured
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			n := New(store, membroker.New(), markup.New(), Config{Rate: 1e9, Burst: 1 << 30})
			defer n.Shutdown(context.Background()) // before the store's Close
			// Members put in the room directly: hello and join would cost a
			// store write each, and they are not what is measured.
			r := newRoom("lobby")
			sessions := make([]*Session, members)
			for i := range sessions {
				sessions[i] = n.Connect(nopBatchOutbox{}, benchCodec{}, Peer{Addr: "bench"})
				sessions[i].nick, sessions[i].key = fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", i)
			}
			n.mu.Lock()
			n.rooms["lobby"] = r
			for _, s := range sessions {
				r.addLocked(s)
			}
			n.mu.Unlock()
			batch := make([]*parley.Event, bc.events)
			for i := range batch {
				msg := &parley.Message{ID: int64(i + 1), Room: "lobby", Seq: int64(i + 1), From: "m0", Text: "hello", HTML: "<p>hello</p>", CreatedAt: time.Now()}
				batch[i] = &parley.Event{Kind: parley.EventMessage, Room: "lobby", Message: msg}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n.deliverBatch(r, batch, time.Now())
			}
			deliveries := float64(b.N * members * bc.events)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
			b.ReportMetric(float64(testing.AllocsPerRun(1, func() { n.deliverBatch(r, batch, time.Now()) }))/float64(members*bc.events), "allocs/delivery")
		})
	}
}
