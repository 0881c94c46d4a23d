package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/node"
)

// batchOutbox records what a batch-capable transport is given: each
// SendBatch as one write of several frames, each Send as a write of one.
type batchOutbox struct {
	outbox
	mu     sync.Mutex
	writes []int       // frames per write, in order
	at     []time.Time // when each write was queued
}

func (o *batchOutbox) SendBatch(b *node.Batch) bool {
	for _, f := range b.Frames {
		o.outbox.Send(f)
	}
	o.note(len(b.Frames))
	return true
}

func (o *batchOutbox) Send(frame []byte) bool {
	ok := o.outbox.Send(frame)
	o.note(1)
	return ok
}

func (o *batchOutbox) note(n int) {
	o.mu.Lock()
	o.writes = append(o.writes, n)
	o.at = append(o.at, time.Now())
	o.mu.Unlock()
}

// roomOf joins members batch-recording sessions to room "lobby".
func roomOf(t *testing.T, n *node.Node, members int) []*batchOutbox {
	t.Helper()
	var c atomic.Int64
	outs := make([]*batchOutbox, members)
	for i := range outs {
		outs[i] = &batchOutbox{}
		s := n.Connect(outs[i], countingCodec{&c}, node.Peer{Addr: "test"})
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpHello, Nickname: fmt.Sprint("m", i)})
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpJoin, Room: "lobby"})
	}
	return outs
}

// joinedSender is a session "sender" in room "lobby".
func joinedSender(n *node.Node) *node.Session {
	var c atomic.Int64
	s := n.Connect(&outbox{}, countingCodec{&c}, node.Peer{Addr: "test"})
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpHello, Nickname: "sender"})
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpJoin, Room: "lobby"})
	return s
}

// messageSeqs returns the seqs of the message events queued on o, in order.
func messageSeqs(o *batchOutbox) []int64 {
	o.outbox.mu.Lock()
	defer o.outbox.mu.Unlock()
	var seqs []int64
	for _, f := range o.outbox.frames {
		if f["type"] == "message" {
			seqs = append(seqs, int64(f["msg"].(map[string]any)["seq"].(float64)))
		}
	}
	return seqs
}

func waitSeqs(t *testing.T, o *batchOutbox, want int) []int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(messageSeqs(o)) < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got := messageSeqs(o)
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Fatalf("seqs %v; want 1…%d in order, once each", got, want)
		}
	}
	if len(got) != want {
		t.Fatalf("got %d messages; want %d", len(got), want)
	}
	return got
}

// A quiet room delivers a message at once; messages that follow within
// the room's window go out together, one write per member.
func TestQuietRoomDeliversAtOnceBusyRoomInBatches(t *testing.T) {
	// 100 members with 10 s per 1,000: a window of 1 s, long enough to
	// tell "at once" from "batched" on a loaded machine.
	n := newNode(t, node.Config{Rate: 1e6, Burst: 1e6, FanoutWindow: 10 * time.Second, PresenceLimit: 10})
	outs := roomOf(t, n, 100)
	s := joinedSender(n)
	time.Sleep(1100 * time.Millisecond) // the room is quiet again

	before := len(outs[99].writes)
	sent := time.Now()
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpSend, Room: "lobby", Text: "first"})
	waitSeqs(t, outs[99], 1)
	if d := time.Since(sent); d > 500*time.Millisecond {
		t.Errorf("a quiet room's message took %v; want it at once", d)
	}
	for i := 0; i < 20; i++ {
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpSend, Room: "lobby", Text: fmt.Sprint(i)})
	}
	for _, o := range outs {
		waitSeqs(t, o, 21)
	}
	o := outs[99]
	o.mu.Lock()
	writes := o.writes[before:]
	o.mu.Unlock()
	if len(writes) > 4 {
		t.Errorf("21 messages reached a member in %d writes %v; want the 20 that came within the window batched", len(writes), writes)
	}
}

// A batch never holds more than MaxBatch events (a member's outbox must
// take a whole batch); a room behind goes on at once, in order.
func TestBatchesAreBoundedAndKeepOrder(t *testing.T) {
	n := newNode(t, node.Config{Rate: 1e6, Burst: 1e6, FanoutWindow: 2 * time.Second, MaxBatch: 8, PresenceLimit: 10})
	outs := roomOf(t, n, 50)
	s := joinedSender(n)
	for i := 0; i < 100; i++ {
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpSend, Room: "lobby", Text: fmt.Sprint(i)})
	}
	for _, o := range outs {
		waitSeqs(t, o, 100)
		o.mu.Lock()
		for _, w := range o.writes {
			if w > 8 {
				t.Fatalf("a write of %d frames; want at most MaxBatch = 8 (%v)", w, o.writes)
			}
		}
		o.mu.Unlock()
	}
}

// Frames handed over in a batch are the same bytes a single Send gets.
func TestBatchFramesAreTheEventEncoding(t *testing.T) {
	n := newNode(t, node.Config{Rate: 1e6, Burst: 1e6, FanoutWindow: time.Second, PresenceLimit: 10})
	outs := roomOf(t, n, 20)
	s := joinedSender(n)
	for i := 0; i < 5; i++ {
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpSend, Room: "lobby", Text: fmt.Sprint("text ", i)})
	}
	waitSeqs(t, outs[0], 5)
	outs[0].outbox.mu.Lock()
	defer outs[0].outbox.mu.Unlock()
	i := 0
	for _, f := range outs[0].outbox.frames {
		if f["type"] != "message" {
			continue
		}
		b, _ := json.Marshal(f["msg"])
		var m struct{ Text, From string }
		_ = json.Unmarshal(b, &m)
		if m.Text != fmt.Sprint("text ", i) || m.From != "sender" {
			t.Fatalf("message %d = %+v", i, m)
		}
		i++
	}
}

// Above the presence limit a join's ack counts the members instead of
// listing them; presence lists them on demand.
func TestJoinAckOfABigRoomCountsMembers(t *testing.T) {
	n := newNode(t, node.Config{PresenceLimit: 3})
	var c atomic.Int64
	var last *outbox
	var s *node.Session
	for i := 0; i < 5; i++ {
		s, last = connect(t, n, countingCodec{&c}, fmt.Sprint("p", i))
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpJoin, Room: "big", Ref: "j"})
		ack := last.last()
		_, listed := ack["members"]
		if ack["member_count"] != float64(i+1) || listed != (i+1 <= 3) {
			t.Fatalf("join %d: ack %v; want member_count %d and members listed only up to 3", i+1, ack, i+1)
		}
	}
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpPresence, Room: "big", Ref: "p"})
	if p := last.last(); len(p["members"].([]any)) != 5 || p["member_count"] != float64(5) {
		t.Fatalf("presence = %v; want all 5", p)
	}
}
