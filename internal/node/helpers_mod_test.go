package node_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/markup"
	"github.com/parley-chat/parley/internal/membroker"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/password"
	"github.com/parley-chat/parley/internal/sqlite"
)

// The tests of accounts and moderation read what node sends through
// typedCodec: parley's own types as JSON, so that every field the engine
// sets is seen (whatever the wire protocols carry of it).

// wireFrame is one thing queued on a session.
type wireFrame struct {
	T          string // "event", "reply" or "error"
	Event      *parley.Event
	Reply      *parley.Reply
	Ref        string
	Code       string
	Message    string
	RetryAfter time.Duration
	At         time.Time `json:"-"` // when it was queued (machine time)
}

type typedCodec struct{}

func (typedCodec) EncodeEvent(ev *parley.Event) []byte {
	return mustJSON(wireFrame{T: "event", Event: ev})
}
func (typedCodec) EncodeReply(r *parley.Reply) []byte {
	return mustJSON(wireFrame{T: "reply", Reply: r, Ref: r.Ref})
}
func (typedCodec) EncodeError(ref string, err error) []byte {
	return mustJSON(wireFrame{T: "error", Ref: ref, Code: parley.ErrorCode(err), Message: parley.ErrorMessage(err), RetryAfter: parley.ErrorRetryAfter(err)})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// conn records the frames queued on a session and how it was closed.
type conn struct {
	t      *testing.T
	n      *node.Node
	s      *node.Session
	mu     sync.Mutex
	frames []wireFrame
	closed error
}

func (c *conn) Send(frame []byte) bool {
	var f wireFrame
	if err := json.Unmarshal(frame, &f); err != nil {
		panic(err)
	}
	f.At = time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, f)
	return c.closed == nil
}

func (c *conn) Close(reason error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == nil {
		c.closed = reason
	}
}

func (c *conn) closedWith() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// do runs cmd with a fresh ref and returns its answer (waiting for it:
// sends are answered by the pipeline).
func (c *conn) do(cmd parley.Command) wireFrame {
	c.t.Helper()
	refs.Lock()
	refs.n++
	cmd.Ref = "r" + strconv.Itoa(refs.n)
	refs.Unlock()
	c.n.Handle(context.Background(), c.s, cmd)
	var got wireFrame
	eventually(c.t, "an answer to "+string(cmd.Op), func() bool {
		f, ok := c.find(func(f wireFrame) bool { return f.Ref == cmd.Ref })
		got = f
		return ok
	})
	return got
}

var refs struct {
	sync.Mutex
	n int
}

func (c *conn) find(match func(wireFrame) bool) (wireFrame, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.frames {
		if match(f) {
			return f, true
		}
	}
	return wireFrame{}, false
}

// events returns the events of kind queued so far.
func (c *conn) events(kind parley.EventKind) []*parley.Event {
	var out []*parley.Event
	for _, f := range c.eventFrames(kind) {
		out = append(out, f.Event)
	}
	return out
}

// eventFrames returns the frames of the events of kind queued so far.
func (c *conn) eventFrames(kind parley.EventKind) []wireFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wireFrame
	for _, f := range c.frames {
		if f.T == "event" && f.Event.Kind == kind {
			out = append(out, f)
		}
	}
	return out
}

// awaitEvent waits for an event of kind.
func (c *conn) awaitEvent(kind parley.EventKind) *parley.Event {
	c.t.Helper()
	var ev *parley.Event
	eventually(c.t, "a "+string(kind)+" event", func() bool {
		evs := c.events(kind)
		if len(evs) > 0 {
			ev = evs[0]
		}
		return ev != nil
	})
	return ev
}

// awaitClosed waits for the session to be closed and returns why, with
// the error frame that came before.
func (c *conn) awaitClosed() (error, wireFrame) {
	c.t.Helper()
	eventually(c.t, "the connection is closed", func() bool { return c.closedWith() != nil })
	f, _ := c.find(func(f wireFrame) bool { return f.T == "error" && f.Ref == "" })
	return c.closedWith(), f
}

// fakeClock is a Config.Now a test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// cheapPasswords keeps tests fast: argon2id at its least cost.
var cheapPasswords = password.Params{Memory: 64, Time: 1, Threads: 1}

// env is one node on a real SQLite store.
type env struct {
	t     *testing.T
	n     *node.Node
	store parley.Store
}

func newEnv(t *testing.T, cfg node.Config) *env {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if cfg.PasswordParams == (password.Params{}) {
		cfg.PasswordParams = cheapPasswords
	}
	if cfg.Rate == 0 {
		cfg.Rate, cfg.Burst = 1e6, 1e6
	}
	n := node.New(store, membroker.New(), markup.New(), cfg)
	t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
	return &env{t: t, n: n, store: store}
}

// open connects from peer without saying hello.
func open(t *testing.T, n *node.Node, peer node.Peer) *conn {
	c := &conn{t: t, n: n}
	if peer.Addr == "" {
		peer.Addr = "test"
	}
	c.s = n.Connect(c, typedCodec{}, peer)
	return c
}

// hello connects from peer and says hello with cmd; the answer is
// returned (a welcome or an error).
func hello(t *testing.T, n *node.Node, peer node.Peer, cmd parley.Command) (*conn, wireFrame) {
	t.Helper()
	c := open(t, n, peer)
	cmd.Op = parley.OpHello
	return c, c.do(cmd)
}

// guest connects as the guest nick and fails the test if it cannot.
func guest(t *testing.T, n *node.Node, nick string, ip string) *conn {
	t.Helper()
	peer := node.Peer{}
	if ip != "" {
		peer.IP = netip.MustParseAddr(ip)
	}
	c, f := hello(t, n, peer, parley.Command{Nickname: nick})
	if f.T != "reply" {
		t.Fatalf("hello %s: %+v", nick, f)
	}
	return c
}

// member is a guest in room.
func member(t *testing.T, n *node.Node, nick, room string) *conn {
	t.Helper()
	c := guest(t, n, nick, "")
	if f := c.do(parley.Command{Op: parley.OpJoin, Room: room}); f.T != "reply" {
		t.Fatalf("%s join %s: %+v", nick, room, f)
	}
	return c
}

// register registers nick (password "pw-of-"+nick) with role.
func (e *env) register(nick string, role parley.Role) parley.Login {
	e.t.Helper()
	l, err := e.n.Register(context.Background(), nick, "pw-of-"+nick, "", netip.Addr{})
	if err != nil {
		e.t.Fatalf("register %s: %v", nick, err)
	}
	if role != parley.RoleUser {
		if _, err := e.store.SetRole(context.Background(), nick, role); err != nil {
			e.t.Fatal(err)
		}
		l.User.Role = role
	}
	return l
}

var (
	operator = parley.Actor{Name: "operator", Role: parley.RoleAdmin, Via: "cli"}
	ctx      = context.Background()
)

func actor(nick string, role parley.Role) parley.Actor {
	return parley.Actor{Name: nick, Role: role, Via: "session"}
}

// wantCode fails the test unless err has code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := parley.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q); want %q", what, err, got, code)
	}
}
