package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/wstest"
)

// crashClient is one sender of the crash test: it sends as fast as the
// server acknowledges and remembers what was acknowledged and what it saw.
type crashClient struct {
	nick, token string
	c           *wstest.Client
	acked       map[string]int64 // client_id → message id
	seen        []int64          // seq of every lobby message event, in order
	unacked     string           // client_id sent and not acknowledged when the server died
	unackedText string
}

// next consumes frames in order until the one answering ref, recording
// message events on the way. It reports false if the connection ended or
// nothing came within d.
func (cl *crashClient) next(ref string, d time.Duration) (wstest.Frame, bool) {
	deadline := time.Now().Add(d)
	for {
		f, ok := cl.c.Wait(time.Until(deadline), func(wstest.Frame) bool { return true })
		if !ok {
			return nil, false
		}
		if f.Type() == "message" && f.Msg().Str("room") == "lobby" && f.Str("ref") == "" {
			cl.seen = append(cl.seen, f.Msg().Num("seq"))
			continue
		}
		if f.Str("ref") == ref {
			return f, true
		}
	}
}

// TestKill9LosesNothingAcknowledged: 20 clients send at full speed; the
// real server process is killed with SIGKILL mid-run and restarted on the
// same database. Every acknowledged message is in history exactly once,
// sequence numbers have no hole, a resend of what was in flight is stored
// at most once, and every client resumes with no gap and no duplicate.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	clients, acks := 20, int64(400)
	if soak() {
		clients, acks = 50, 20000
	}
	db := filepath.Join(t.TempDir(), "parley.db")
	url, cmd := startProcess(t, db, "--rate", "100000", "--burst", "100000")
	cls := make([]*crashClient, clients)
	for i := range cls {
		c := wstest.Dial(t, wstest.WSURL(url), nil)
		w := c.Hello(fmt.Sprintf("crash%02d", i))
		c.Join("lobby")
		cls[i] = &crashClient{nick: w.Str("nickname"), token: w.Str("token"), c: c, acked: map[string]int64{}}
	}

	var total atomic.Int64
	var wg sync.WaitGroup
	for i, cl := range cls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				id, ref := fmt.Sprintf("c%02d-%d", i, n), fmt.Sprintf("r%d", n)
				text := fmt.Sprintf("%s says %d", cl.nick, n)
				cl.unacked, cl.unackedText = id, text
				if cl.c.SendRaw([]byte(fmt.Sprintf(`{"type":"send","room":"lobby","text":%q,"client_id":%q,"ref":%q}`, text, id, ref))) != nil {
					return
				}
				f, ok := cl.next(ref, 5*time.Second)
				if !ok {
					return // the server died with this one in flight
				}
				if f.Type() != "ack" {
					continue // refused (it would be retried by a real client); not acknowledged
				}
				cl.acked[id] = f.Msg().Num("id")
				cl.unacked = ""
				total.Add(1)
			}
		}()
	}
	for total.Load() < acks {
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown, no flush
		t.Fatal(err)
	}
	wg.Wait()
	_ = cmd.Wait()
	t.Logf("killed after %d acknowledged messages", total.Load())

	url, _ = startProcess(t, db, "--rate", "100000", "--burst", "100000")
	for _, cl := range cls {
		cl.c.Close()
		cl.c = wstest.Dial(t, wstest.WSURL(url), nil)
		if w := cl.c.MustOK(map[string]any{"type": "hello", "token": cl.token}); w.Str("nickname") != cl.nick {
			t.Fatalf("%s came back as %q", cl.nick, w.Str("nickname"))
		}
		// Back in the room with what was missed since the last seq seen.
		after := int64(0)
		if len(cl.seen) > 0 {
			after = cl.seen[len(cl.seen)-1]
		}
		page := cl.c.MustOK(map[string]any{"type": "resume", "room": "lobby", "after": after, "limit": 200})
		for _, m := range page["messages"].([]any) {
			cl.seen = append(cl.seen, wstest.Frame(m.(map[string]any)).Num("seq"))
		}
		// The message in flight at the kill: resent with its client_id, it
		// is stored once whether or not it had been stored before.
		if cl.unacked != "" {
			ack := cl.c.MustOK(map[string]any{"type": "send", "room": "lobby", "text": cl.unackedText, "client_id": cl.unacked, "ref": "resend"})
			cl.acked[cl.unacked] = ack.Msg().Num("id")
		}
	}

	// History: every acknowledged message exactly once; seqs 1..n.
	reader := cls[0].c
	var all []wstest.Frame
	for before := int64(0); ; {
		cmd := map[string]any{"type": "history", "room": "lobby", "limit": 200}
		if before > 0 {
			cmd["before"] = before
		}
		h := reader.MustOK(cmd)
		page := h["messages"].([]any)
		for i := len(page) - 1; i >= 0; i-- {
			all = append(all, wstest.Frame(page[i].(map[string]any)))
		}
		if h["has_more"] != true || len(page) == 0 {
			break
		}
		before = wstest.Frame(page[0].(map[string]any)).Num("seq")
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Num("seq") < all[j].Num("seq") })
	ids := map[int64]int{}
	byClientID := map[string]int{}
	for i, m := range all {
		if m.Num("seq") != int64(i+1) {
			t.Fatalf("history seq %d at position %d: a hole or a duplicate", m.Num("seq"), i+1)
		}
		ids[m.Num("id")]++
		byClientID[m.Str("from")+"/"+m.Str("client_id")]++
	}
	for k, n := range byClientID {
		if n != 1 {
			t.Errorf("%s stored %d times", k, n)
		}
	}
	acked := 0
	for _, cl := range cls {
		for cid, id := range cl.acked {
			acked++
			if ids[id] != 1 {
				t.Errorf("acknowledged message %s (id %d) is in history %d times; want once", cid, id, ids[id])
			}
		}
	}
	t.Logf("%d acknowledged, %d in history", acked, len(all))

	// Resume: what each client saw, then history after its last seq, is
	// 1..n with no gap and no duplicate.
	last := int64(len(all))
	for _, cl := range cls {
		seen := cl.seen
		after := int64(0)
		if len(seen) > 0 {
			after = seen[len(seen)-1]
		}
		for {
			h := cl.c.MustOK(map[string]any{"type": "history", "room": "lobby", "after": after, "limit": 200})
			page := h["messages"].([]any)
			for _, m := range page {
				seen = append(seen, wstest.Frame(m.(map[string]any)).Num("seq"))
			}
			if len(page) == 0 || h["has_more"] != true {
				break
			}
			after = seen[len(seen)-1]
		}
		for i, seq := range seen {
			if seq != int64(i+1) {
				t.Fatalf("%s resumed with seq %d at position %d: a gap or a duplicate", cl.nick, seq, i+1)
			}
		}
		if int64(len(seen)) != last {
			t.Errorf("%s has %d messages after resuming; want %d", cl.nick, len(seen), last)
		}
	}
}
