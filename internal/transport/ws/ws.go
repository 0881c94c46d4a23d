// Package ws is Parley's native endpoint: it upgrades HTTP requests at /ws
// to WebSocket connections (internal/wsconn), decodes their frames with
// internal/protocol and hands the commands to node. It knows node, never
// the store.
package ws

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	gobwas "github.com/gobwas/ws"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/httperr"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/origin"
	"github.com/parley-chat/parley/internal/peer"
	"github.com/parley-chat/parley/internal/protocol"
	"github.com/parley-chat/parley/internal/wsconn"
)

// Config tunes the endpoint.
type Config struct {
	// AllowedOrigins lists the browser origins ("https://example.com") that
	// may open a connection besides the server's own host; "*" allows any.
	// Requests without an Origin header (non-browser clients) are allowed:
	// the check exists to stop cross-site WebSocket hijacking in browsers.
	AllowedOrigins []string
	// MaxCommandBytes is the largest frame decoded as a command; a larger
	// one (up to Conn.ReadLimit) is answered with a too_large error and the
	// connection stays open. Zero means 16 KiB.
	MaxCommandBytes int
	// SendBuffer, if positive, fixes the kernel's send buffer of each
	// connection (SO_SNDBUF) instead of letting it grow to the system
	// maximum (4 MiB on Linux): what a client that stops reading can cost
	// in kernel memory, and how soon its outbox limit cuts it off.
	SendBuffer int
	// Peers tells the client's address (past trusted proxies) and login
	// cookie; the zero value trusts no proxy.
	Peers  peer.Resolver
	Conn   wsconn.Config
	Logger *slog.Logger
}

// DefaultMaxCommandBytes bounds a command frame: a 4,000-character message
// of 4-byte characters with its envelope fits.
const DefaultMaxCommandBytes = 16 << 10

// Handler serves the native endpoint.
type Handler struct {
	node *node.Node
	cfg  Config
	log  *slog.Logger

	ctx    context.Context // ends every connection when cancelled (Close)
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and conns.Add
	closed bool
	conns  sync.WaitGroup

	open, slow atomic.Int64 // Stats
}

// Stats are the endpoint's counts.
type Stats struct {
	Open          int64 // connections open now
	SlowConsumers int64 // connections closed because their outbox overflowed (close 4000)
}

// Stats returns the endpoint's counts.
func (h *Handler) Stats() Stats {
	return Stats{Open: h.open.Load(), SlowConsumers: h.slow.Load()}
}

// New returns a Handler that serves n.
func New(n *node.Node, cfg Config) *Handler {
	if cfg.MaxCommandBytes == 0 {
		cfg.MaxCommandBytes = DefaultMaxCommandBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{node: n, cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel}
	next := cfg.Conn.OnSlowConsumer
	h.cfg.Conn.OnSlowConsumer = func() {
		h.slow.Add(1)
		if next != nil {
			next()
		}
	}
	return h
}

// ServeHTTP upgrades the request and starts the connection. It returns at
// once, so that net/http's goroutine for the request — its stack, buffers
// and request — is freed: an idle connection then costs one small
// goroutine and no read buffer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.originAllowed(r) {
		httperr.Write(w, parley.Errorf(parley.EForbidden, "origin %s may not open a connection here", r.Header.Get("Origin")))
		return
	}
	if !h.track() {
		httperr.Write(w, &parley.Error{Code: parley.EUnavailable, Message: "server shutting down"})
		return
	}
	conn, rw, _, err := gobwas.UpgradeHTTP(r, w)
	if err != nil {
		h.conns.Done()
		h.log.Debug("upgrade failed", "remote", r.RemoteAddr, "err", err)
		return // UpgradeHTTP has answered the request
	}
	if tc, ok := conn.(*net.TCPConn); ok && h.cfg.SendBuffer > 0 {
		_ = tc.SetWriteBuffer(h.cfg.SendBuffer)
	}
	c := wsconn.New(conn, rw, h.cfg.Conn) // takes what rw buffered; rw is not kept
	h.start(c, h.cfg.Peers.Request(r))
}

// start runs one connection. No goroutine of ours waits for it: wsconn
// hands each message over on the short-lived goroutine that reads a burst
// (its stack may grow: it ends), and the end is a callback, after the last
// message. Commands are handled there, in order, one at a time; a command
// that waits (for the store) keeps the connection from being read further,
// so a client's sends wait in TCP. The handler's context serves every
// connection: an idle connection's memory is the point (a context and its
// registration with the parent cost hundreds of bytes each).
func (h *Handler) start(c *wsconn.Conn, p node.Peer) {
	remote := p.Addr
	s := h.node.Connect(outbox{c}, Codec{}, p)
	h.open.Add(1)
	c.Start(h.ctx, func(p []byte) { h.command(h.ctx, s, p) }, func(err error) {
		h.open.Add(-1)
		h.node.Disconnect(h.ctx, s)
		h.log.Debug("connection ended", "remote", remote, "nick", s.Nickname(), "err", err)
		h.conns.Done()
	})
}

func (h *Handler) command(ctx context.Context, s *node.Session, p []byte) {
	if len(p) > h.cfg.MaxCommandBytes {
		h.node.Reject(s, "", parley.Errorf(parley.ETooLarge, "a command frame is at most %d bytes", h.cfg.MaxCommandBytes))
		return
	}
	cmd, err := protocol.Decode(p)
	if err != nil {
		h.node.Reject(s, cmd.Ref, err)
		return
	}
	h.node.Handle(ctx, s, cmd)
}

func (h *Handler) track() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.conns.Add(1)
	return true
}

// Close refuses new connections, ends the remaining ones as going away and
// waits for their goroutines, up to ctx. Call it after node.Shutdown, which
// has closed them gracefully already.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	done := make(chan struct{})
	go func() { h.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Handler) originAllowed(r *http.Request) bool {
	return origin.Policy{Allowed: h.cfg.AllowedOrigins}.Allows(r.Header.Get("Origin"), r.Host)
}
