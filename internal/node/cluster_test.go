package node_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/markup"
	"github.com/parley-chat/parley/internal/membroker"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/sqlite"
)

// link is a node's connection to the cluster's broker that a test can cut
// (a crash, or a network partition): while cut, nothing this node
// publishes goes out and nothing comes in.
type link struct {
	b   *membroker.Broker
	cut atomic.Bool
}

func (l *link) Publish(ctx context.Context, ev *parley.Event) error {
	if l.cut.Load() {
		return parley.Errorf(parley.EUnavailable, "link cut")
	}
	return l.b.Publish(ctx, ev)
}

func (l *link) Subscribe(fn func(*parley.Event)) func() {
	return l.b.Subscribe(func(ev *parley.Event) {
		if !l.cut.Load() {
			fn(ev)
		}
	})
}

// cluster is a few nodes on one store and one broker, in one process.
type cluster struct {
	t     *testing.T
	store parley.Store
	nodes []*node.Node
	links []*link
}

const testHeartbeat = 40 * time.Millisecond

func newCluster(t *testing.T, size int) *cluster {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	b := membroker.New()
	c := &cluster{t: t, store: store}
	for range size {
		l := &link{b: b}
		n := node.New(store, l, markup.New(), node.Config{Rate: 1e6, Burst: 1e6, Heartbeat: testHeartbeat})
		t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
		c.nodes = append(c.nodes, n)
		c.links = append(c.links, l)
	}
	time.Sleep(3 * testHeartbeat) // the nodes meet
	return c
}

// join connects nick to node i and joins room.
func (c *cluster) join(i int, nick, room string) (*node.Session, *outbox) {
	c.t.Helper()
	s, out := connect(c.t, c.nodes[i], countingCodec{new(atomic.Int64)}, nick)
	c.nodes[i].Handle(context.Background(), s, parley.Command{Op: parley.OpJoin, Room: room, Ref: "join"})
	if f := out.await(c.t, "join"); f["type"] != "ack" {
		c.t.Fatalf("%s join %s on node %d: %v", nick, room, i, f)
	}
	return s, out
}

// eventually waits up to 5 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
	}
}

// seqs returns the seqs of the room's message events queued on o.
func (o *outbox) seqs(room string) []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []int64
	for _, f := range o.frames {
		if f["type"] == "message" {
			if m := f["msg"].(map[string]any); m["room"] == room {
				out = append(out, int64(m["seq"].(float64)))
			}
		}
	}
	return out
}

func consecutive(seqs []int64, from, to int64) bool {
	if int64(len(seqs)) != to-from+1 {
		return false
	}
	for i, s := range seqs {
		if s != from+int64(i) {
			return false
		}
	}
	return true
}

// Members of one room on different nodes see every message of the room,
// whoever sent it on whichever node, once each and in seq order.
func TestClusterRoomAcrossNodesKeepsOrderAndLosesNothing(t *testing.T) {
	c := newCluster(t, 3)
	alice, aliceOut := c.join(0, "alice", "lobby")
	bob, bobOut := c.join(2, "bob", "lobby")
	_, carolOut := c.join(1, "carol", "lobby")
	const each = 150
	var wg sync.WaitGroup
	for i, sender := range []struct {
		n int
		s *node.Session
	}{{0, alice}, {2, bob}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				c.nodes[sender.n].Handle(context.Background(), sender.s, parley.Command{Op: parley.OpSend, Room: "lobby", Text: fmt.Sprint(i, "-", k)})
			}
		}()
	}
	wg.Wait()
	for name, out := range map[string]*outbox{"alice": aliceOut, "bob": bobOut, "carol": carolOut} {
		eventually(t, name+" has every message", func() bool { return len(out.seqs("lobby")) >= 2*each })
		if got := out.seqs("lobby"); !consecutive(got, 1, 2*each) {
			t.Errorf("%s got %d messages, not 1…%d in order: %v…", name, len(got), 2*each, got[:min(10, len(got))])
		}
	}
}

// Presence is the cluster's: member lists and counts include people on
// other nodes, a second session of someone on another node announces
// nothing, and someone leaves only when their last session anywhere does.
func TestClusterPresenceAcrossNodes(t *testing.T) {
	c := newCluster(t, 3)
	alice, aliceOut := c.join(0, "alice", "lobby")
	bob2, bob2Out := c.join(2, "bob", "lobby")
	eventually(t, "alice hears bob join", func() bool { return aliceOut.has("joined", "bob") })

	c.nodes[0].Handle(context.Background(), alice, parley.Command{Op: parley.OpPresence, Room: "lobby", Ref: "p"})
	if p := aliceOut.await(t, "p"); fmt.Sprint(p["members"]) != "[alice bob]" || p["member_count"] != 2.0 {
		t.Errorf("presence on node 1 = %v; want alice and bob", p)
	}
	// bob on node 2 as well, with his token.
	bob1, bob1Out := connectToken(t, c.nodes[1], bob2Out.frames[0]["token"].(string))
	c.nodes[1].Handle(context.Background(), bob1, parley.Command{Op: parley.OpJoin, Room: "lobby", Ref: "j"})
	bob1Out.await(t, "j")
	time.Sleep(3 * testHeartbeat)
	if n := aliceOut.countOf("joined", "bob"); n != 1 {
		t.Errorf("alice heard bob join %d times; want once", n)
	}
	// bob leaves node 3 but is still on node 2: nobody hears him leave.
	c.nodes[2].Handle(context.Background(), bob2, parley.Command{Op: parley.OpLeave, Room: "lobby", Ref: "l"})
	time.Sleep(3 * testHeartbeat)
	if aliceOut.has("left", "bob") {
		t.Error("alice heard bob leave while he is still in the room on node 2")
	}
	c.nodes[1].Disconnect(context.Background(), bob1)
	eventually(t, "alice hears bob leave once his last session is gone", func() bool { return aliceOut.has("left", "bob") })
	c.nodes[0].Handle(context.Background(), alice, parley.Command{Op: parley.OpRooms, Ref: "r"})
	if r := aliceOut.await(t, "r"); !strings.Contains(fmt.Sprint(r["rooms"]), "members:1") {
		t.Errorf("rooms = %v; want lobby with 1 member", r["rooms"])
	}
}

// A node that dies (no heartbeat, no goodbye) drops out of presence
// within a few heartbeats; one that shuts down, at once.
func TestClusterNodeThatDiesDropsOutOfPresence(t *testing.T) {
	c := newCluster(t, 3)
	_, aliceOut := c.join(0, "alice", "lobby")
	c.join(1, "bob", "lobby")
	c.join(2, "carol", "lobby")
	eventually(t, "alice hears bob and carol", func() bool { return aliceOut.has("joined", "bob") && aliceOut.has("joined", "carol") })

	c.links[1].cut.Store(true) // node 2 dies
	start := time.Now()
	eventually(t, "bob leaves with his node", func() bool { return aliceOut.has("left", "bob") })
	if d := time.Since(start); d > 5*testHeartbeat {
		t.Errorf("bob left %v after his node died; want within 4 heartbeats (%v)", d, 4*testHeartbeat)
	}
	if aliceOut.has("left", "carol") {
		t.Error("carol left too, but her node is alive")
	}
	_ = c.nodes[2].Shutdown(context.Background())
	eventually(t, "carol leaves when her node shuts down", func() bool { return aliceOut.has("left", "carol") })
}

// Direct messages, mentions, typing and announcements reach the people
// concerned on any node.
func TestClusterDirectMentionsTypingAnnouncements(t *testing.T) {
	c := newCluster(t, 3)
	alice, aliceOut := c.join(0, "alice", "lobby")
	_, bobOut := c.join(2, "bob", "lobby")
	_, carolOut := connect(t, c.nodes[1], countingCodec{new(atomic.Int64)}, "carol") // in no room
	eventually(t, "alice hears bob", func() bool { return aliceOut.has("joined", "bob") })

	c.nodes[0].Handle(context.Background(), alice, parley.Command{Op: parley.OpDirect, To: "carol", Text: "psst", Ref: "d"})
	eventually(t, "carol gets the direct message", func() bool { return len(carolOut.seqs(parley.DMKey("alice", "carol"))) == 1 })
	if len(bobOut.seqs(parley.DMKey("alice", "carol"))) != 0 {
		t.Error("bob got alice's direct message to carol")
	}
	c.nodes[0].Handle(context.Background(), alice, parley.Command{Op: parley.OpSend, Room: "lobby", Text: "hi @carol", Ref: "m"})
	eventually(t, "carol is notified of the mention", func() bool { return carolOut.count("mention") == 1 })
	c.nodes[0].Handle(context.Background(), alice, parley.Command{Op: parley.OpTyping, Room: "lobby"})
	eventually(t, "bob sees alice typing", func() bool { return bobOut.has("typing", "alice") })
	if _, err := c.nodes[1].Announce(context.Background(), parley.Actor{Name: "operator", Role: parley.RoleAdmin}, node.AnnouncementRequest{Text: "maintenance at noon"}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]*outbox{"alice": aliceOut, "bob": bobOut, "carol": carolOut} {
		eventually(t, name+" gets the announcement", func() bool { return out.count("announcement") == 1 })
	}
}

// A message stored by a node that died before publishing it — or lost by
// the broker — is not lost: the next message shows the gap and the
// members' nodes read the missing one from the store, in order; a node
// cut off from the broker catches up when the link is back.
func TestClusterFillsGapsFromTheStore(t *testing.T) {
	c := newCluster(t, 2)
	_, aliceOut := c.join(0, "alice", "lobby")
	bob, _ := c.join(1, "bob", "lobby")
	// Stored, never published.
	if _, _, err := c.store.Append(context.Background(), parley.Message{Room: "lobby", From: "ghost", Text: "lost", HTML: "lost", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c.nodes[1].Handle(context.Background(), bob, parley.Command{Op: parley.OpSend, Room: "lobby", Text: "after"})
	eventually(t, "alice gets both, in order", func() bool { return consecutive(aliceOut.seqs("lobby"), 1, 2) })

	// Node 1 is cut off while bob sends; it catches up when reconnected.
	c.links[0].cut.Store(true)
	for k := range 5 {
		c.nodes[1].Handle(context.Background(), bob, parley.Command{Op: parley.OpSend, Room: "lobby", Text: fmt.Sprint(k)})
	}
	time.Sleep(2 * testHeartbeat)
	if len(aliceOut.seqs("lobby")) != 2 {
		t.Fatalf("alice got %v while her node was cut off", aliceOut.seqs("lobby"))
	}
	c.links[0].cut.Store(false)
	c.nodes[0].Reconnected()
	eventually(t, "alice catches up after the link is back", func() bool { return consecutive(aliceOut.seqs("lobby"), 1, 7) })
}

func (o *outbox) countOf(typ, nickname string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, f := range o.frames {
		if f["type"] == typ && f["nickname"] == nickname {
			n++
		}
	}
	return n
}

// connectToken makes a session that says hello with a token.
func connectToken(t *testing.T, n *node.Node, token string) (*node.Session, *outbox) {
	t.Helper()
	out := &outbox{}
	s := n.Connect(out, countingCodec{new(atomic.Int64)}, node.Peer{Addr: "test"})
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpHello, Token: token})
	if f := out.frames[0]; f["type"] != "welcome" {
		t.Fatalf("hello with token: %v", f)
	}
	return s, out
}
