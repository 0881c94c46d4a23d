// Package socketio is Parley's Socket.IO endpoint (/socket.io/): official
// Socket.IO clients — 4.x over Engine.IO 4, 1.x and 2.x over Engine.IO 3 —
// join the same chat as native and web clients, over long-polling,
// WebSocket, or polling upgraded to WebSocket. It is the only package that
// imports github.com/zishang520/socket.io, and it uses the library for the
// transports and the packet format only: rooms, membership and fan-out stay
// in node, which encodes each event once per namespace and Engine.IO
// version (see codec).
//
// Each Socket.IO event becomes a native command (docs/PROTOCOL.md,
// "Socket.IO"): its payload object is the native command without "type",
// validated by the same decoder, and the acknowledgement callback, if any,
// receives the native reply or error. Errors of events without a callback
// arrive as "error" events.
package socketio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/httperr"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/origin"
	"github.com/parley-chat/parley/internal/peer"
	"github.com/parley-chat/parley/internal/protocol"
)

// Config tunes the endpoint.
type Config struct {
	// Path is where the endpoint is served; default "/socket.io/".
	Path string
	// Namespaces are served with the full event API, besides "/" (always).
	Namespaces []string
	// AllowedOrigins: as for the native endpoint (internal/origin).
	AllowedOrigins []string
	// MaxCommandBytes bounds one event's payload, as JSON; larger gets a
	// too_large error. Default 16 KiB.
	MaxCommandBytes int
	// MaxHTTPBufferBytes is the largest Engine.IO message or polling
	// request body; larger ends the connection. Default 1 MiB.
	MaxHTTPBufferBytes int64
	// OutboxMessages and OutboxBytes bound what Engine.IO holds unwritten
	// for one socket; beyond, the socket is disconnected (it reconnects and
	// resumes). Defaults 1024 and 4 MiB.
	OutboxMessages, OutboxBytes int
	// Compat, if set, serves tutorial-style pages (see Compat).
	Compat *Compat
	// Peers tells the client's address (past trusted proxies) and login
	// cookie from the handshake; the zero value trusts no proxy.
	Peers  peer.Resolver
	Logger *slog.Logger
}

// Compat maps the one-event API of tutorial-style pages onto a room:
// sockets in Namespace get a guest nickname and are in Room from the
// start; an InEvent carrying {data: text} (or a bare string) posts text
// to Room, and every message of Room reaches them as OutEvent with
// {data: text, from: nickname}. Nothing else is sent to them.
type Compat struct {
	Namespace string // e.g. "/test"; must not be one of the API namespaces
	InEvent   string // e.g. "my event"
	OutEvent  string // e.g. "my response"
	Room      string // default "lobby"
}

// Defaults.
const (
	DefaultPath            = "/socket.io/"
	DefaultMaxCommandBytes = 16 << 10
	DefaultMaxHTTPBuffer   = 1 << 20
)

// ops maps the event names of the API to native commands.
var ops = map[string]parley.Op{
	"hello": parley.OpHello, "join": parley.OpJoin, "leave": parley.OpLeave, "rooms": parley.OpRooms,
	"send": parley.OpSend, "dm": parley.OpDirect, "history": parley.OpHistory, "resume": parley.OpResume,
	"presence": parley.OpPresence, "typing": parley.OpTyping, "conversations": parley.OpConversations,
}

// Server serves the endpoint.
type Server struct {
	node    *node.Node
	cfg     Config
	log     *slog.Logger
	io      *socket.Server
	handler http.Handler
	origins origin.Policy

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and conns.Add
	closed bool
	conns  sync.WaitGroup

	encodes    atomic.Int64
	open, slow atomic.Int64 // sockets open; sockets cut off for falling behind
}

// Stats are counters of the endpoint.
type Stats struct {
	// EventEncodes counts events encoded: one per event, namespace and
	// Engine.IO version, however many sockets receive it.
	EventEncodes int64
	// Open counts the sockets connected now (one per namespace joined).
	Open int64
	// SlowConsumers counts sockets closed because their outbox
	// overflowed.
	SlowConsumers int64
}

// Stats returns the endpoint's counters.
func (s *Server) Stats() Stats {
	return Stats{EventEncodes: s.encodes.Load(), Open: s.open.Load(), SlowConsumers: s.slow.Load()}
}

// New returns the endpoint for n.
func New(n *node.Node, cfg Config) (*Server, error) {
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if cfg.MaxCommandBytes <= 0 {
		cfg.MaxCommandBytes = DefaultMaxCommandBytes
	}
	if cfg.MaxHTTPBufferBytes <= 0 {
		cfg.MaxHTTPBufferBytes = DefaultMaxHTTPBuffer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OutboxMessages <= 0 {
		cfg.OutboxMessages = 1024
	}
	if cfg.OutboxBytes <= 0 {
		cfg.OutboxBytes = 4 << 20
	}
	nsps := map[string]bool{"/": true}
	for _, nsp := range cfg.Namespaces {
		if !validNamespace(nsp) {
			return nil, fmt.Errorf("socket.io namespace %q: want /name", nsp)
		}
		nsps[nsp] = true
	}
	if c := cfg.Compat; c != nil {
		if c.Room == "" {
			c.Room = "lobby"
		}
		c.Room = parley.RoomKey(c.Room)
		switch {
		case !validNamespace(c.Namespace):
			return nil, fmt.Errorf("socket.io compat namespace %q: want /name", c.Namespace)
		case nsps[c.Namespace]:
			return nil, fmt.Errorf("socket.io compat namespace %q is also an API namespace; pick another", c.Namespace)
		case c.InEvent == "" || c.OutEvent == "":
			return nil, errors.New("socket.io compat mapping needs an inbound and an outbound event name")
		case !parley.ValidRoom(c.Room):
			return nil, fmt.Errorf("socket.io compat room %q is not a valid room name", c.Room)
		}
	}

	s := &Server{node: n, cfg: cfg, log: cfg.Logger, origins: origin.Policy{Allowed: cfg.AllowedOrigins}}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	opts := socket.DefaultServerOptions()
	opts.SetPath(strings.TrimSuffix(cfg.Path, "/"))
	opts.SetServeClient(false)
	opts.SetAllowEIO3(true) // socket.io-client 1.x and 2.x
	opts.SetTransports(types.NewSet[transports.TransportCtor](&transports.PollingBuilder{}, &transports.WebSocketBuilder{}))
	opts.SetMaxHttpBufferSize(cfg.MaxHTTPBufferBytes)
	opts.SetPingInterval(25 * time.Second)
	opts.SetPingTimeout(20 * time.Second)
	// A connection whose Socket.IO CONNECT never arrives is closed after
	// this (v3.0.2 could lose a CONNECT that arrived before its connection
	// handler ran; v3.0.6 reads only after it, see ARCHITECTURE.md).
	opts.SetConnectTimeout(10 * time.Second)
	// CORS reflects the request's origin: ServeHTTP has refused the origins
	// the policy does not allow before the library sees the request.
	opts.SetCors(&types.Cors{Origin: true, Credentials: true})
	s.io = socket.NewServer(nil, opts)
	// Two codecs per namespace: Engine.IO 4 clients, and Engine.IO 3
	// clients, who get ASCII-only JSON (see codec.ascii).
	serve := func(nsp string, compat *Compat) {
		c4, c3 := newCodec(nsp, compat, &s.encodes, false), newCodec(nsp, compat, &s.encodes, true)
		s.io.Of(nsp, nil).On("connection", func(args ...any) {
			sock := args[0].(*socket.Socket)
			if sock.Conn().Protocol() == 3 {
				s.connect(sock, c3)
			} else {
				s.connect(sock, c4)
			}
		})
	}
	for nsp := range nsps {
		serve(nsp, nil)
	}
	if cfg.Compat != nil {
		serve(cfg.Compat.Namespace, cfg.Compat)
	}
	s.handler = s.io.ServeHandler(nil)
	return s, nil
}

func validNamespace(nsp string) bool {
	if len(nsp) < 2 || len(nsp) > 64 || nsp[0] != '/' || strings.ContainsAny(nsp, ",?#") {
		return false
	}
	for i := 0; i < len(nsp); i++ {
		if nsp[i] <= ' ' || nsp[i] >= 0x7f {
			return false // ASCII: it is part of every packet, which EIO3 clients get escaped
		}
	}
	return true
}

// ServeHTTP serves the endpoint's requests (mount it at Path).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		httperr.Write(w, &parley.Error{Code: parley.EUnavailable, Message: "server shutting down"})
		return
	}
	if o := r.Header.Get("Origin"); !s.origins.Allows(o, r.Host) {
		httperr.Write(w, parley.Errorf(parley.EForbidden, "origin %s may not open a connection here", o))
		return
	}
	if r.Header.Get("Upgrade") == "" {
		// Work around a data race in the library (v3.0.2): when a polling
		// request's context ends because the client went away, its
		// HttpContext watcher goroutine reads the request's Cleanup hook
		// while the polling transport may be writing it
		// (types/http-context.go closeWithError against
		// transports/polling.go onPollRequest). With a context that net/http
		// never cancels, the watcher only ever runs after the library's own
		// write of the response, which is ordered after the hook is set. A
		// poll whose client vanished then ends at the next packet for it
		// (at the latest the next ping, 25 s) or when the socket closes.
		r = r.WithContext(context.WithoutCancel(r.Context()))
	}
	s.handler.ServeHTTP(w, r)
}

// conn is one socket: its node session and outbox, and the events being
// handled (node.Disconnect must come after the last Handle).
type conn struct {
	s     *Server
	sock  *socket.Socket
	sess  *node.Session
	out   *outbox
	codec *codec

	mu       sync.Mutex
	gone     bool
	handling sync.WaitGroup
}

func (s *Server) connect(sock *socket.Socket, c *codec) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sock.Disconnect(true)
		return
	}
	s.conns.Add(1)
	s.mu.Unlock()

	out := newOutbox(sock, c, limits{messages: s.cfg.OutboxMessages, bytes: s.cfg.OutboxBytes}, &s.slow)
	s.open.Add(1)
	cn := &conn{s: s, sock: sock, out: out, codec: c}
	hs := sock.Handshake()
	s.log.Debug("socket.io connection", "address", hs.Address, "namespace", sock.Nsp().Name())
	cn.sess = s.node.Connect(out, c, s.cfg.Peers.Peer(hs.Address, hs.Headers.Header()))
	sock.On("disconnect", func(args ...any) { cn.disconnect(args) })
	if c.compat != nil {
		cn.startCompat(sock)
	}
	sock.OnAny(func(args ...any) { cn.event(args) })
}

// disconnect runs once, when the socket is gone.
func (cn *conn) disconnect(reason []any) {
	cn.mu.Lock()
	if cn.gone {
		cn.mu.Unlock()
		return
	}
	cn.gone = true
	cn.mu.Unlock()
	cn.s.open.Add(-1)
	cn.out.stop()
	go func() { // not on the library's goroutine: an event may still be in node
		defer cn.s.conns.Done()
		cn.handling.Wait()
		cn.s.node.Disconnect(cn.s.ctx, cn.sess)
		cn.s.log.Debug("socket.io connection ended", "nick", cn.sess.Nickname(), "reason", fmt.Sprint(reason...))
	}()
}

// begin reports whether an event may be handled, and counts it.
func (cn *conn) begin() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.gone {
		return false
	}
	cn.handling.Add(1)
	return true
}

// event handles one incoming event: name, payload, optional ack callback.
// The library calls it on the socket's own queue, one event at a time.
func (cn *conn) event(args []any) {
	if !cn.begin() {
		return
	}
	defer cn.handling.Done()
	name, _ := args[0].(string)
	args = args[1:]
	if cn.codec.ascii && cn.sock.Conn().Transport().Name() == "polling" {
		for i := range args {
			args[i] = undoUTF8Twice(args[i])
		}
	}
	ref := ""
	if n := len(args); n > 0 {
		if ack, ok := args[n-1].(socket.Ack); ok {
			ref = cn.out.register(ack)
			args = args[:n-1]
		}
	}
	cmd, err := cn.command(name, args)
	if err != nil {
		cn.s.node.Reject(cn.sess, ref, err)
		return
	}
	cmd.Ref = ref
	cn.s.node.Handle(cn.s.ctx, cn.sess, cmd)
}

// command turns an event into a native command with the native decoder,
// so both protocols validate alike.
func (cn *conn) command(name string, args []any) (parley.Command, error) {
	if c := cn.codec.compat; c != nil {
		if name != c.InEvent {
			return parley.Command{}, parley.Errorf(parley.EUnknownType, "this namespace takes only %q events", c.InEvent)
		}
		return compatCommand(c, args)
	}
	op, ok := ops[name]
	if !ok {
		return parley.Command{}, parley.Errorf(parley.EUnknownType, "unknown event %q", name)
	}
	var payload map[string]any
	switch {
	case len(args) == 0:
		payload = map[string]any{}
	case len(args) == 1:
		p, ok := args[0].(map[string]any)
		if !ok {
			return parley.Command{}, parley.Errorf(parley.EBadJSON, "the payload of %q must be one object", name)
		}
		payload = p
	default:
		return parley.Command{}, parley.Errorf(parley.EBadJSON, "the payload of %q must be one object (then an optional ack callback)", name)
	}
	payload["type"] = string(op)
	delete(payload, "ref") // the ack callback is the ref
	frame := protocol.Marshal(payload)
	if len(frame) > cn.s.cfg.MaxCommandBytes {
		return parley.Command{}, parley.Errorf(parley.ETooLarge, "an event payload is at most %d bytes of JSON", cn.s.cfg.MaxCommandBytes)
	}
	return protocol.Decode(frame)
}

// compatCommand reads {data: text} (or a bare string) as a message to the
// compat room.
func compatCommand(c *Compat, args []any) (parley.Command, error) {
	var text any
	if len(args) > 0 {
		text = args[0]
		if m, ok := text.(map[string]any); ok {
			text = m["data"]
		}
	}
	s, ok := text.(string)
	if !ok {
		return parley.Command{}, parley.Errorf(parley.EInvalid, "send {data: \"text\"}")
	}
	return parley.Command{Op: parley.OpSend, Room: c.Room, Text: s}, nil
}

// startCompat gives a tutorial-style socket a guest nickname and puts it
// in the compat room.
func (cn *conn) startCompat(sock *socket.Socket) {
	if !cn.begin() {
		return
	}
	defer cn.handling.Done()
	nick := "guest-" + strings.ToLower(string(sock.Id()))
	if len(nick) > 14 {
		nick = nick[:14]
	}
	nick = strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return 'x'
	}, nick)
	cn.s.node.Handle(cn.s.ctx, cn.sess, parley.Command{Op: parley.OpHello, Nickname: nick})
	cn.s.node.Handle(cn.s.ctx, cn.sess, parley.Command{Op: parley.OpJoin, Room: cn.codec.compat.Room})
}

// Close refuses new connections, lets the sockets that node.Shutdown
// closed (an error event, then the transport) finish for a moment, ends the
// rest and waits for their goroutines, up to ctx. Call it after
// node.Shutdown.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	grace := time.NewTimer(2 * closeGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
	case <-ctx.Done():
	}
	s.io.Close(nil)
	defer s.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// undoUTF8Twice repairs the strings of an Engine.IO 3 polling payload from
// socket.io-client 1.x, which encodes payloads as UTF-8 once more before
// sending them: each byte of a character's UTF-8 form arrives as a
// character of its own (U+0080–U+00FF). A string made only of such
// characters whose bytes form valid UTF-8 with at least one multi-byte
// character is taken for one of those and decoded. (Clients 2.x do not do
// this; text from them that happens to look like it — "Ã©" — is the one
// thing this gets wrong.)
func undoUTF8Twice(v any) any {
	switch v := v.(type) {
	case string:
		return fixString(v)
	case map[string]any:
		for k, x := range v {
			v[k] = undoUTF8Twice(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = undoUTF8Twice(x)
		}
		return v
	}
	return v
}

func fixString(s string) string {
	high := false
	for _, r := range s {
		if r > 0xff {
			return s
		}
		high = high || r >= 0x80
	}
	if !high {
		return s
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	if !utf8.Valid(b) {
		return s
	}
	return string(b)
}
