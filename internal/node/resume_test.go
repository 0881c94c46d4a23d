package node_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/node"
)

// seqsAfterResume returns, in the order queued, the seqs of the resume
// reply's messages and of the live lobby messages after it.
func seqsAfterResume(t *testing.T, out *outbox, ref string) (page []int64, live []int64, reset bool) {
	t.Helper()
	out.mu.Lock()
	defer out.mu.Unlock()
	seen := false
	for _, f := range out.frames {
		switch {
		case f["ref"] == ref:
			if f["type"] != "history" {
				t.Fatalf("resume: %v", f)
			}
			seen = true
			reset = f["reset"] == true
			for _, m := range f["messages"].([]any) {
				page = append(page, int64(m.(map[string]any)["seq"].(float64)))
			}
		case seen && f["type"] == "message":
			if m := f["msg"].(map[string]any); m["room"] == "lobby" {
				live = append(live, int64(m["seq"].(float64)))
			}
		}
	}
	if !seen {
		t.Fatal("no resume reply")
	}
	return page, live, reset
}

// A client that resumes while messages keep coming gets, after its last
// seq, the catch-up page and then the live messages: every seq once, in
// order, nothing at the seam twice — whatever the interleaving.
func TestResumeHasNoGapAndNoDuplicateAtTheSeam(t *testing.T) {
	for round := 0; round < 20; round++ {
		n := newNode(t, node.Config{Rate: 1e6, Burst: 1e6})
		var c atomic.Int64
		codec := countingCodec{&c}
		sender, _ := connect(t, n, codec, "sender")
		n.Handle(context.Background(), sender, parley.Command{Op: parley.OpJoin, Room: "lobby"})
		for i := 0; i < 5; i++ {
			n.Handle(context.Background(), sender, parley.Command{Op: parley.OpSend, Room: "lobby", Text: fmt.Sprint(i)})
		}
		back, out := connect(t, n, codec, "back")
		var wg sync.WaitGroup
		const senders, each = 4, 15
		for k := 0; k < senders; k++ { // messages keep coming while "back" resumes
			s, _ := connect(t, n, codec, fmt.Sprint("s", k))
			n.Handle(context.Background(), s, parley.Command{Op: parley.OpJoin, Room: "lobby"})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					n.Handle(context.Background(), s, parley.Command{Op: parley.OpSend, Room: "lobby", Text: fmt.Sprint(i)})
				}
			}()
		}
		for k := 0; k < 3*round; k++ { // resume at a different moment each round
			runtime.Gosched()
		}
		n.Handle(context.Background(), back, parley.Command{Op: parley.OpResume, Room: "lobby", After: 3, Ref: "r", Limit: 200})
		wg.Wait()
		total := 5 + senders*each
		// Live messages leave on the room's fan-out goroutine: wait for
		// them (or for a failure to show).
		page, live, reset := seqsAfterResume(t, out, "r")
		for deadline := time.Now().Add(5 * time.Second); len(page)+len(live) < total-3 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
			page, live, reset = seqsAfterResume(t, out, "r")
		}
		all := append(page, live...)
		if reset || len(all) != total-3 {
			t.Fatalf("round %d: page %v, live %v, reset %v; want 4…%d once each", round, page, live, reset, total)
		}
		for i, seq := range all {
			if seq != int64(i+4) {
				t.Fatalf("round %d: page %v then live %v; want 4…%d in order, once each", round, page, live, total)
			}
		}
	}
}

// A resume point that is not in the room's history — newer than its
// newest message, as after the database was restored from a backup — is
// answered explicitly, with the newest page.
func TestResumeFromAPointNotInHistoryIsAReset(t *testing.T) {
	n := newNode(t, node.Config{})
	var c atomic.Int64
	s, out := connect(t, n, countingCodec{&c}, "alice")
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpJoin, Room: "lobby"})
	for i := 0; i < 3; i++ {
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpSend, Room: "lobby", Text: fmt.Sprint(i)})
	}
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpResume, Room: "lobby", After: 99, Ref: "r"})
	page, _, reset := seqsAfterResume(t, out, "r")
	if !reset || fmt.Sprint(page) != "[1 2 3]" {
		t.Errorf("resume after 99 of 3: page %v, reset %v; want the newest page [1 2 3] with reset", page, reset)
	}
	// A point in history is no reset.
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpResume, Room: "lobby", After: 1, Ref: "r2"})
	if page, _, reset := seqsAfterResume(t, out, "r2"); reset || fmt.Sprint(page) != "[2 3]" {
		t.Errorf("resume after 1: page %v, reset %v", page, reset)
	}
}
