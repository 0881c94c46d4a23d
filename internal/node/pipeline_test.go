package node_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/node"
)

// A connection's sends are pipelined: each is queued for the store while
// the ones before it wait for their commit, and the acks come back in the
// order of the sends, with the room's seqs in that order too. Any other
// command waits for the sends before it: its reply comes after their acks
// and sees what they stored.
func TestSendsArePipelinedAndAnsweredInOrder(t *testing.T) {
	n := newNode(t, node.Config{Rate: 1e6, Burst: 1e6})
	alice, out := connect(t, n, countingCodec{new(atomic.Int64)}, "alice")
	n.Handle(context.Background(), alice, parley.Command{Op: parley.OpJoin, Room: "lobby", Ref: "j"})
	const sends = 100 // more than one pipeline's worth: the 33rd waits for the 1st
	for i := range sends {
		n.Handle(context.Background(), alice, parley.Command{Op: parley.OpSend, Room: "lobby", Text: fmt.Sprint(i), Ref: fmt.Sprint("s", i)})
	}
	n.Handle(context.Background(), alice, parley.Command{Op: parley.OpHistory, Room: "lobby", Limit: 200, Ref: "h"})
	// History was answered once Handle returned: the sends were acked before.
	h := out.byRef("h")
	if h == nil || len(h["messages"].([]any)) != sends {
		got := -1
		if h != nil {
			got = len(h["messages"].([]any))
		}
		t.Fatalf("history right after %d sends has %d messages; want all", sends, got)
	}
	var acks []int64
	out.mu.Lock()
	for _, f := range out.frames {
		if f["type"] == "ack" {
			if m, ok := f["msg"].(map[string]any); ok {
				if want := fmt.Sprint("s", len(acks)); f["ref"] != want {
					t.Errorf("ack %d has ref %v; want %s (acks in the order of the sends)", len(acks), f["ref"], want)
				}
				acks = append(acks, int64(m["seq"].(float64)))
			}
		}
		if f["ref"] == "h" && len(acks) != sends {
			t.Errorf("history answered after %d acks; want after all %d", len(acks), sends)
		}
	}
	out.mu.Unlock()
	for i, seq := range acks {
		if seq != int64(i+1) {
			t.Fatalf("ack %d has seq %d; want %d (seqs in the order of the sends)", i, seq, i+1)
		}
	}
}

// Disconnect waits for the sends still queued: they are stored, published
// and acked (into a closing outbox) before the session leaves its rooms.
func TestDisconnectWaitsForQueuedSends(t *testing.T) {
	n := newNode(t, node.Config{Rate: 1e6, Burst: 1e6})
	codec := countingCodec{new(atomic.Int64)}
	alice, _ := connect(t, n, codec, "alice")
	bob, bobOut := connect(t, n, codec, "bob")
	for _, s := range []*node.Session{alice, bob} {
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpJoin, Room: "lobby"})
	}
	for i := range 10 {
		n.Handle(context.Background(), alice, parley.Command{Op: parley.OpSend, Room: "lobby", Text: fmt.Sprint(i)})
	}
	n.Disconnect(context.Background(), alice)
	bobOut.mu.Lock()
	defer bobOut.mu.Unlock()
	var seqs []float64
	left := false
	for _, f := range bobOut.frames {
		switch f["type"] {
		case "message":
			if left {
				t.Errorf("a message after alice left")
			}
			seqs = append(seqs, f["msg"].(map[string]any)["seq"].(float64))
		case "left":
			left = true
		}
	}
	if len(seqs) != 10 || !left {
		t.Errorf("bob got seqs %v and left=%v; want 10 messages, then alice leaving", seqs, left)
	}
}
