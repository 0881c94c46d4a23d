package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/markup"
	"github.com/parley-chat/parley/internal/membroker"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/protocol"
	"github.com/parley-chat/parley/internal/sqlite"
)

// countingCodec is the native codec that counts how often it encodes events.
type countingCodec struct{ events *atomic.Int64 }

func (c countingCodec) EncodeEvent(ev *parley.Event) []byte {
	c.events.Add(1)
	return protocol.EncodeEvent(ev)
}
func (c countingCodec) EncodeReply(r *parley.Reply) []byte { return protocol.EncodeReply(r) }
func (c countingCodec) EncodeError(ref string, err error) []byte {
	return protocol.EncodeError(ref, err)
}

// outbox records the frames queued on a session.
type outbox struct {
	mu     sync.Mutex
	frames []map[string]any
	closed error
}

func (o *outbox) Send(frame []byte) bool {
	var f map[string]any
	if err := json.Unmarshal(frame, &f); err != nil {
		panic(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.frames = append(o.frames, f)
	return o.closed == nil
}

func (o *outbox) Close(reason error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed == nil {
		o.closed = reason
	}
}

// await returns the frame answering ref, waiting up to 5 s for it (sends
// are acked by the session's pipeline, after Handle returned).
func (o *outbox) await(t *testing.T, ref string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if f := o.byRef(ref); f != nil {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer to %q within 5 s", ref)
		}
	}
}

func (o *outbox) last() map[string]any {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.frames[len(o.frames)-1]
}

// has reports whether a frame of type typ about nickname was queued.
func (o *outbox) has(typ, nickname string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, f := range o.frames {
		if f["type"] == typ && f["nickname"] == nickname {
			return true
		}
	}
	return false
}

func (o *outbox) count(typ string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, f := range o.frames {
		if f["type"] == typ {
			n++
		}
	}
	return n
}

func newNode(t *testing.T, cfg node.Config) *node.Node {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "n.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	n := node.New(store, membroker.New(), markup.New(), cfg)
	t.Cleanup(func() { _ = n.Shutdown(context.Background()) }) // runs before the store's Close
	return n
}

// connect makes a session that has said hello as nick.
func connect(t *testing.T, n *node.Node, codec node.Codec, nick string) (*node.Session, *outbox) {
	t.Helper()
	out := &outbox{}
	s := n.Connect(out, codec, node.Peer{Addr: "test"})
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpHello, Nickname: nick})
	if f := out.frames[0]; f["type"] != "welcome" {
		t.Fatalf("hello %s: %v", nick, f)
	}
	return s, out
}

func TestFanOutEncodesOncePerCodec(t *testing.T) {
	n := newNode(t, node.Config{})
	var a, b atomic.Int64
	codecA, codecB := countingCodec{&a}, countingCodec{&b}
	var outs []*outbox
	for i := 0; i < 200; i++ {
		codec := codecA
		if i%2 == 1 {
			codec = codecB
		}
		s, out := connect(t, n, codec, fmt.Sprintf("user%d", i))
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpJoin, Room: "lobby"})
		outs = append(outs, out)
	}
	a.Store(0)
	b.Store(0)
	sender, _ := connect(t, n, codecA, "sender")
	n.Handle(context.Background(), sender, parley.Command{Op: parley.OpJoin, Room: "lobby"})
	// The sender's joined event goes out on the room's fan-out goroutine.
	for deadline := time.Now().Add(5 * time.Second); !outs[0].has("joined", "sender"); {
		if time.Now().After(deadline) {
			t.Fatal("no joined event for the sender")
		}
		time.Sleep(time.Millisecond)
	}
	a.Store(0)
	b.Store(0)
	n.Handle(context.Background(), sender, parley.Command{Op: parley.OpSend, Room: "lobby", Text: "hi"})
	for deadline := time.Now().Add(5 * time.Second); outs[0].count("message") < 1 || outs[len(outs)-1].count("message") < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the message did not arrive")
		}
		time.Sleep(time.Millisecond)
	}
	if a.Load() != 1 || b.Load() != 1 {
		t.Errorf("encodings = %d, %d; want 1 per codec for 201 recipients", a.Load(), b.Load())
	}
	for i, out := range outs {
		if out.count("message") != 1 {
			t.Fatalf("session %d got %d messages; want 1", i, out.count("message"))
		}
	}
}

// The ack of a send means: stored, and handed to the broker. The room's
// members get the event from the room's fan-out, which may be a batch
// that leaves after the ack (batch.go), so the ack carries the stored
// message itself.
func TestAckComesAfterTheMessageIsStoredAndPublished(t *testing.T) {
	n := newNode(t, node.Config{})
	var c atomic.Int64
	alice, aliceOut := connect(t, n, countingCodec{&c}, "alice")
	bob, bobOut := connect(t, n, countingCodec{&c}, "bob")
	for _, s := range []*node.Session{alice, bob} {
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpJoin, Room: "lobby"})
	}
	n.Handle(context.Background(), alice, parley.Command{Op: parley.OpSend, Room: "lobby", Text: "x", Ref: "r1"})
	ack := aliceOut.await(t, "r1")
	msg, _ := ack["msg"].(map[string]any)
	if ack["type"] != "ack" || msg == nil || msg["seq"] != float64(1) {
		t.Fatalf("ack = %v; want an ack carrying the stored message (seq 1)", ack)
	}
	// Stored: a history read right after the ack has it.
	n.Handle(context.Background(), bob, parley.Command{Op: parley.OpHistory, Room: "lobby", Ref: "h"})
	if h := bobOut.last(); h["type"] != "history" || len(h["messages"].([]any)) != 1 {
		t.Fatalf("history after the ack = %v; want the message", h)
	}
	// Published: both members get the event.
	for deadline := time.Now().Add(5 * time.Second); aliceOut.count("message") < 1 || bobOut.count("message") < 1; {
		if time.Now().After(deadline) {
			t.Fatalf("message events: alice %d, bob %d; want 1 each", aliceOut.count("message"), bobOut.count("message"))
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRateLimitThenFloodClose(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	n := newNode(t, node.Config{Rate: 1, Burst: 3, FloodStrikes: 5, Now: clock})
	var c atomic.Int64
	s, out := connect(t, n, countingCodec{&c}, "fast") // hello took one token
	for i := 0; i < 2; i++ {
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpRooms})
		if typ := out.last()["type"]; typ != "rooms" {
			t.Fatalf("command %d within burst: %v", i, out.last())
		}
	}
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpRooms})
	if f := out.last(); f["code"] != "rate_limited" || f["retry_after_ms"].(float64) != 1000 {
		t.Errorf("over the burst: %v; want rate_limited, retry after 1000 ms", f)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpRooms})
	if typ := out.last()["type"]; typ != "rooms" {
		t.Errorf("a second later: %v; want the command to pass", out.last())
	}
	for i := 0; i < 6; i++ {
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpRooms})
	}
	if parley.ErrorCode(out.closed) != parley.ERateLimited {
		t.Errorf("after 6 refusals in a row with FloodStrikes 5: closed = %v; want rate_limited", out.closed)
	}
}

func TestShutdownClosesSessionsAsGoingAwayAndRefusesCommands(t *testing.T) {
	n := newNode(t, node.Config{})
	var c atomic.Int64
	s, out := connect(t, n, countingCodec{&c}, "alice")
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if parley.ErrorCode(out.closed) != parley.EUnavailable {
		t.Errorf("closed = %v; want unavailable (going away)", out.closed)
	}
	n.Handle(context.Background(), s, parley.Command{Op: parley.OpRooms, Ref: "x"})
	if f := out.last(); f["code"] != "unavailable" {
		t.Errorf("command after shutdown: %v; want unavailable", f)
	}
}

// In a room bigger than PresenceLimit, people come and go without joined
// and left events; in a small room they are told.
func TestPresenceEventsStopAboveThePresenceLimit(t *testing.T) {
	n := newNode(t, node.Config{PresenceLimit: 3})
	var c atomic.Int64
	codec := countingCodec{&c}
	first, out := connect(t, n, codec, "first")
	n.Handle(context.Background(), first, parley.Command{Op: parley.OpJoin, Room: "big"})
	for i := 0; i < 5; i++ {
		s, _ := connect(t, n, codec, fmt.Sprintf("p%d", i))
		n.Handle(context.Background(), s, parley.Command{Op: parley.OpJoin, Room: "big"})
	}
	// Its own, p0's and p1's: while the room had at most 3 members.
	if got := out.count("joined"); got != 3 {
		t.Errorf("first saw %d joined events; want 3", got)
	}
}

// userLookups is the real SQLite store counting UserByNickname calls.
type userLookups struct {
	*sqlite.Store
	n atomic.Int64
}

func (u *userLookups) UserByNickname(ctx context.Context, nick string) (parley.User, error) {
	u.n.Add(1)
	return u.Store.UserByNickname(ctx, nick)
}

// A direct message to someone connected needs no store read to find them
// (a connected person holds their nickname); one to someone offline reads
// the user, and one to nobody is refused.
func TestDirectMessageToSomeoneOnlineReadsNoUser(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "n.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	store := &userLookups{Store: db}
	n := node.New(store, membroker.New(), markup.New(), node.Config{})
	t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
	var c atomic.Int64
	alice, aliceOut := connect(t, n, countingCodec{&c}, "alice")
	_, bobOut := connect(t, n, countingCodec{&c}, "Bob")
	carol, _ := connect(t, n, countingCodec{&c}, "carol")
	n.Disconnect(context.Background(), carol)

	n.Handle(context.Background(), alice, parley.Command{Op: parley.OpDirect, To: "BOB", Text: "psst", Ref: "d1"})
	ack := aliceOut.await(t, "d1")
	msg, _ := ack["msg"].(map[string]any)
	if ack["type"] != "ack" || msg["to"] != "Bob" || msg["room"] != "dm:alice:bob" {
		t.Fatalf("ack = %v; want the message to Bob (as he writes his nickname) in dm:alice:bob", ack)
	}
	for deadline := time.Now().Add(5 * time.Second); bobOut.count("message") < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Bob did not get the message")
		}
	}
	if got := store.n.Load(); got != 0 {
		t.Errorf("%d user lookups for a message to someone connected; want 0", got)
	}

	n.Handle(context.Background(), alice, parley.Command{Op: parley.OpDirect, To: "carol", Text: "later", Ref: "d2"})
	if ack := aliceOut.await(t, "d2"); ack["type"] != "ack" {
		t.Errorf("to carol, offline: %v; want an ack", ack)
	}
	n.Handle(context.Background(), alice, parley.Command{Op: parley.OpDirect, To: "nobody", Text: "hello?", Ref: "d3"})
	if f := aliceOut.await(t, "d3"); f["type"] != "error" || f["code"] != string(parley.EUnknownUser) {
		t.Errorf("to nobody: %v; want unknown_user", f)
	}
	if got := store.n.Load(); got != 2 {
		t.Errorf("%d user lookups for carol (offline) and nobody; want 2", got)
	}
}
