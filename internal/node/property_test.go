package node_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/markup"
	"github.com/parley-chat/parley/internal/membroker"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/sqlite"
)

// world is a node on a store that can be restarted, shared by the clients
// of the property test.
type world struct {
	t     *testing.T
	dir   string
	mu    sync.RWMutex // clients act under RLock; restart takes Lock
	gen   int
	store *sqlite.Store
	n     *node.Node
}

func (w *world) start() {
	s, err := sqlite.Open(context.Background(), filepath.Join(w.dir, "p.db"), sqlite.Options{})
	if err != nil {
		w.t.Fatal(err)
	}
	w.store = s
	w.n = node.New(s, membroker.New(), markup.New(), node.Config{Rate: 1e6, Burst: 1e6})
	w.gen++
}

func (w *world) restart() {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.n.Shutdown(context.Background())
	_ = w.store.Close()
	w.start()
}

// pclient is one client of the property test: what it was delivered, per
// room, across its connections.
type pclient struct {
	nick, token string
	gen         int // the world generation of its session
	s           *node.Session
	out         *outbox
	read        int                // frames of out already looked at
	got         map[string][]int64 // room → seqs delivered: live and resume pages, in order
	unacked     map[string]parley.Command
	next        int
}

// drain looks at the frames queued since last time.
func (c *pclient) drain(t *testing.T) {
	c.out.mu.Lock()
	frames := c.out.frames[c.read:]
	c.read = len(c.out.frames)
	c.out.mu.Unlock()
	for _, f := range frames {
		switch f["type"] {
		case "message":
			m := f["msg"].(map[string]any)
			room := m["room"].(string)
			c.got[room] = append(c.got[room], int64(m["seq"].(float64)))
		case "history":
			room := f["room"].(string)
			if f["reset"] == true {
				t.Errorf("%s: unexpected reset in %s", c.nick, room)
			}
			for _, m := range f["messages"].([]any) {
				c.got[room] = append(c.got[room], int64(m.(map[string]any)["seq"].(float64)))
			}
		case "ack":
			if m, ok := f["msg"].(map[string]any); ok {
				if cid, _ := m["client_id"].(string); cid != "" {
					delete(c.unacked, cid)
				}
			}
		}
	}
}

var propRooms = []string{"alpha", "beta"}

func (c *pclient) last(room string) int64 {
	if g := c.got[room]; len(g) > 0 {
		return g[len(g)-1]
	}
	return 0
}

// connect (again): hello with the token, resume every room after the last
// seq seen, resend what was not acknowledged.
func (c *pclient) connect(t *testing.T, w *world) {
	c.out = &outbox{}
	c.read = 0
	c.s = w.n.Connect(c.out, countingCodec{new(atomic.Int64)}, node.Peer{Addr: "prop"})
	c.gen = w.gen
	hello := parley.Command{Op: parley.OpHello, Nickname: c.nick}
	if c.token != "" {
		hello = parley.Command{Op: parley.OpHello, Token: c.token}
	}
	w.n.Handle(context.Background(), c.s, hello)
	if f := c.out.last(); f["type"] == "welcome" {
		c.token = f["token"].(string)
	} else {
		t.Fatalf("%s hello: %v", c.nick, f)
	}
	c.read = len(c.out.frames)
	for _, room := range propRooms {
		for k := 0; ; k++ { // page after page while has_more
			ref := fmt.Sprintf("resume-%s-%d", room, k)
			w.n.Handle(context.Background(), c.s, parley.Command{Op: parley.OpResume, Room: room, After: c.last(room), Limit: 200, Ref: ref})
			more := c.out.byRef(ref)["has_more"] == true
			c.drain(t)
			if !more || c.last(room) == 0 {
				break
			}
		}
	}
	for _, cmd := range c.unacked {
		w.n.Handle(context.Background(), c.s, cmd)
	}
	// Sends are acked by the session's pipeline; any other command is
	// answered after the acks of the sends before it.
	w.n.Handle(context.Background(), c.s, parley.Command{Op: parley.OpRooms, Ref: "after-resend"})
	if c.out.byRef("after-resend") == nil {
		t.Errorf("%s: no answer to rooms after the resends", c.nick)
	}
	c.drain(t)
}

// TestPropertyRandomInterleavingsKeepOrderAndExactlyOnce: clients send,
// drop, come back and resume at random while the server restarts; for
// every client and room, what was delivered is a run of consecutive seqs
// (no gap, no duplicate, in order), every send is stored exactly once,
// and in the end everyone has everything.
func TestPropertyRandomInterleavingsKeepOrderAndExactlyOnce(t *testing.T) {
	clients, ops := 6, 80
	if os.Getenv("PARLEY_SOAK") != "" {
		clients, ops = 20, 2000
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			w := &world{t: t, dir: t.TempDir()}
			w.start()
			defer func() { _ = w.n.Shutdown(context.Background()); _ = w.store.Close() }()
			cs := make([]*pclient, clients)
			for i := range cs {
				cs[i] = &pclient{nick: fmt.Sprintf("p%d", i), got: map[string][]int64{}, unacked: map[string]parley.Command{}}
				w.mu.RLock()
				cs[i].connect(t, w)
				w.mu.RUnlock()
			}
			var wg sync.WaitGroup
			for i, c := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(seed, uint64(i)))
					for op := 0; op < ops; op++ {
						if i == 0 && rng.IntN(40) == 0 {
							w.restart()
							continue
						}
						w.mu.RLock()
						if c.gen != w.gen { // the server restarted under it
							c.connect(t, w)
						}
						switch r := rng.IntN(10); {
						case r < 7: // send
							room := propRooms[rng.IntN(len(propRooms))]
							c.next++
							cid := fmt.Sprintf("%s-%d", c.nick, c.next)
							cmd := parley.Command{Op: parley.OpSend, Room: room, Text: cid, ClientID: cid}
							c.unacked[cid] = cmd
							w.n.Handle(context.Background(), c.s, cmd)
						case r < 9: // the connection drops; it comes back
							c.drain(t)
							w.n.Disconnect(context.Background(), c.s)
							c.connect(t, w)
						default: // a reader pauses
						}
						c.drain(t)
						w.mu.RUnlock()
					}
				}()
			}
			wg.Wait()
			// Everyone comes back one last time and catches up.
			w.mu.RLock()
			defer w.mu.RUnlock()
			for _, c := range cs {
				w.n.Disconnect(context.Background(), c.s)
				c.connect(t, w)
			}
			stored := map[string]int{}
			lastSeq := map[string]int64{}
			for _, room := range propRooms {
				msgs, err := w.store.After(context.Background(), room, 0, 100000)
				if err != nil {
					t.Fatal(err)
				}
				for i, m := range msgs {
					if m.Seq != int64(i+1) {
						t.Fatalf("%s: stored seq %d at %d", room, m.Seq, i+1)
					}
					stored[m.ClientID]++
				}
				lastSeq[room] = int64(len(msgs))
			}
			for _, c := range cs {
				if len(c.unacked) != 0 {
					t.Errorf("%s: %d sends never acknowledged", c.nick, len(c.unacked))
				}
				for i := 1; i <= c.next; i++ {
					if n := stored[fmt.Sprintf("%s-%d", c.nick, i)]; n != 1 {
						t.Errorf("%s-%d stored %d times; want once", c.nick, i, n)
					}
				}
				for _, room := range propRooms {
					g := c.got[room]
					for k := 1; k < len(g); k++ {
						if g[k] != g[k-1]+1 {
							t.Fatalf("%s in %s was delivered %v…: a gap, a duplicate or disorder at %d", c.nick, room, g[max(0, k-5):min(len(g), k+5)], k)
						}
					}
					if c.last(room) != lastSeq[room] {
						t.Errorf("%s in %s ends at %d; the room has %d", c.nick, room, c.last(room), lastSeq[room])
					}
				}
			}
		})
	}
}

// byRef returns the frame answering ref, or nil.
func (o *outbox) byRef(ref string) map[string]any {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.frames) - 1; i >= 0; i-- {
		if o.frames[i]["ref"] == ref {
			return o.frames[i]
		}
	}
	return nil
}
