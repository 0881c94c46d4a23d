// Package wsconn is one server-side WebSocket connection on gobwas/ws,
// after the HTTP upgrade: a read side, a bounded outbox, and a writer that
// writes everything queued with one system call. It moves text frames and
// knows nothing about chat.
//
// Concurrency rules: messages reach the onText callback in order, one at a
// time. Send, SendFramed and Close may be called from any goroutine and
// never block. An active connection has one small goroutine that only
// waits (read.go); after ParkAfter of silence, on Linux, the process's
// epoll instance waits for it instead and a timer sends its pings
// (idle.go, poll_linux.go), so an idle connection has no goroutine and no
// read buffer. The goroutine that reads a burst of frames, and the writer,
// exist only while there is something to read or write.
package wsconn

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// Config limits one connection. Zero values mean the documented defaults.
type Config struct {
	// ReadLimit is the largest message payload accepted (all fragments of a
	// message together); larger closes the connection with 1009. Default 64 KiB.
	ReadLimit int64
	// OutboxMessages and OutboxBytes bound what is queued and not yet
	// written; beyond either the connection is closed with
	// CloseSlowConsumer. Defaults 1024 frames and 4 MiB.
	OutboxMessages int
	OutboxBytes    int
	// PingPeriod is how long the reader waits in silence before it sends a
	// ping. Default 25 s. Must be less than PongWait.
	PingPeriod time.Duration
	// PongWait is the silence (no frame of any kind) after which the peer
	// is considered gone. Default 60 s.
	PongWait time.Duration
	// WriteWait is the deadline of one write; a peer that does not read for
	// this long is cut off. Default 10 s.
	WriteWait time.Duration
	// ParkAfter is the silence after which a connection's waiting
	// goroutine ends and the process's poller waits for it (Linux).
	// Default 100 ms.
	ParkAfter time.Duration
	// OnSlowConsumer, if set, is called when the connection is closed with
	// CloseSlowConsumer, under the connection's lock: it must only count
	// (an atomic add), never block or call back into the connection.
	OnSlowConsumer func()
}

// Defaults for Config, with their reasons.
const (
	DefaultReadLimit      = 64 << 10               // far above any chat command; bounds memory per reader
	DefaultOutboxMessages = 1024                   // a burst of a busy room; a reader this far behind is not reading
	DefaultOutboxBytes    = 4 << 20                // bounds memory per slow reader
	DefaultPingPeriod     = 25 * time.Second       // below the 30–60 s idle timeouts of common proxies
	DefaultPongWait       = 60 * time.Second       // more than two ping periods: one lost pong is not fatal
	DefaultWriteWait      = 10 * time.Second       // a healthy peer drains a socket buffer far faster
	DefaultParkAfter      = 100 * time.Millisecond // a pause in a burst; then the poller waits, as for most connections most of the time
	closeGrace            = time.Second            // how long to wait for the peer's close reply
	readBufferSize        = 1024                   // a burst of commands; pooled, held only while reading
	coalesceWindow        = 2 * time.Millisecond   // see writeLoop
	maxKeptQueue          = 64                     // a larger batch slice is not reused for the next round of a burst
)

// CloseSlowConsumer is the close code of a connection whose outbox
// overflowed: the client could not keep up. It may reconnect and resume.
const CloseSlowConsumer ws.StatusCode = 4000

func (c *Config) setDefaults() {
	if c.ReadLimit <= 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.OutboxMessages <= 0 {
		c.OutboxMessages = DefaultOutboxMessages
	}
	if c.OutboxBytes <= 0 {
		c.OutboxBytes = DefaultOutboxBytes
	}
	if c.PingPeriod <= 0 {
		c.PingPeriod = DefaultPingPeriod
	}
	if c.PongWait <= 0 {
		c.PongWait = DefaultPongWait
	}
	if c.PingPeriod >= c.PongWait {
		c.PingPeriod = c.PongWait * 9 / 10 // must be less than PongWait
	}
	if c.WriteWait <= 0 {
		c.WriteWait = DefaultWriteWait
	}
	if c.ParkAfter <= 0 {
		c.ParkAfter = DefaultParkAfter
	}
}

// frame is one queued frame: a text message or a control frame — or, with
// op opFramed, frames already framed (headers included) by AppendText.
type frame struct {
	op      ws.OpCode
	payload []byte
	n       int // messages in payload (1 unless opFramed)
}

// opFramed marks a queue entry of ready-made frames; it is not a WebSocket
// opcode (those are 4 bits).
const opFramed ws.OpCode = 0xff

// Conn is one WebSocket connection. Create it with New and run it with
// Serve.
type Conn struct {
	conn net.Conn
	src  io.Reader // conn, after what the upgrade had buffered
	cfg  Config

	// The read side (read.go), used by the waiter and by the goroutine
	// reading a burst, never at once: the hand-offs are a go statement and
	// the wake channel.
	onText    func([]byte)
	onEnd     func(error)
	stopCtx   func() bool
	wake      chan error
	br        *bufio.Reader // while active: what the waiter read, then the burst (and for linger)
	msg       []byte        // a fragmented message being put together
	inMessage bool

	lastSeen time.Time // when the peer last began a frame
	pinged   time.Time // when the waiting goroutine last sent a ping
	noPark   bool      // the poller cannot take this connection

	// Parking (idle.go): a silent connection waits in the poller.
	rmu    sync.Mutex
	rstate int
	timer  *time.Timer
	poll   *poller
	pollID uint64
	rc     syscall.RawConn

	mu      sync.Mutex // guards the fields below; never held during I/O
	queue   []frame
	spare   []frame   // the writer's last batch, reused for the next queue
	bytes   int       // payload bytes in queue
	msgs    int       // messages in queue (an opFramed entry holds many)
	writing bool      // a writer goroutine is running
	closing bool      // a close frame is queued or the connection is ending: Send refuses
	closeBy time.Time // once our close frame is written: when to stop waiting for the reply
	writers sync.WaitGroup

	closeOnce sync.Once // closes conn

	lastWrite atomic.Int64 // UnixNano of the last write, for coalescing
}

// New wraps a connection that has completed the server side of the
// WebSocket handshake. rw is what the upgrade returned (may be nil); bytes
// it has buffered are read first.
func New(conn net.Conn, rw *bufio.ReadWriter, cfg Config) *Conn {
	cfg.setDefaults()
	var src io.Reader = conn
	if rw != nil && rw.Reader != nil && rw.Reader.Buffered() > 0 {
		buffered, _ := rw.Reader.Peek(rw.Reader.Buffered())
		src = io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), conn)
	}
	// No reader of our own: idle connections are most connections, and a
	// read buffer is borrowed only while a burst is read.
	return &Conn{conn: conn, src: src, cfg: cfg}
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// Send queues payload as one text frame without blocking and without
// copying: the caller must not modify payload afterwards, and the same
// slice may be queued on many connections at once. It returns false if the
// connection is closing, or if the outbox is over its limits — then the
// queue is dropped and the connection is closed with CloseSlowConsumer.
func (c *Conn) Send(payload []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	if c.msgs+1 > c.cfg.OutboxMessages || c.bytes+len(payload) > c.cfg.OutboxBytes {
		c.slowConsumerLocked()
		return false
	}
	c.enqueueLocked(frame{ws.OpText, payload, 1})
	return true
}

// SendFramed queues n text messages already framed by AppendText, as Send
// does one: without blocking or copying, counting n messages against the
// outbox limits. A room's batch of events is framed once and queued on
// every member's connection, so that each connection writes it with one
// system call and no per-connection work.
func (c *Conn) SendFramed(framed []byte, n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	if c.msgs+n > c.cfg.OutboxMessages || c.bytes+len(framed) > c.cfg.OutboxBytes {
		c.slowConsumerLocked()
		return false
	}
	c.enqueueLocked(frame{opFramed, framed, n})
	return true
}

// AppendText appends each payload as an unmasked, final text frame: the
// form SendFramed takes.
func AppendText(dst []byte, payloads [][]byte) []byte {
	for _, p := range payloads {
		dst = appendHeader(dst, ws.OpText, len(p))
		dst = append(dst, p...)
	}
	return dst
}

// Close queues a close frame with code and reason after what is already
// queued, and ends the connection once it is written (Serve returns). It
// is safe to call many times from any goroutine; the first call wins.
func (c *Conn) Close(code ws.StatusCode, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, reason)
}

func (c *Conn) closeLocked(code ws.StatusCode, reason string) {
	if c.closing {
		return
	}
	if len(reason) > 123 { // a control frame payload is at most 125 bytes
		reason = reason[:123]
	}
	c.enqueueLocked(frame{ws.OpClose, ws.NewCloseFrameBody(code, reason), 1})
	c.closing = true
}

// slowConsumerLocked drops what is queued (the memory is the point) and
// closes with CloseSlowConsumer. The write in progress, if the peer is not
// reading, would block for WriteWait; its deadline is shortened.
func (c *Conn) slowConsumerLocked() {
	if c.cfg.OnSlowConsumer != nil && !c.closing {
		c.cfg.OnSlowConsumer()
	}
	clear(c.queue)
	c.queue, c.bytes, c.msgs = c.queue[:0], 0, 0
	c.closeLocked(CloseSlowConsumer, "slow consumer: reconnect and resume")
	_ = c.conn.SetWriteDeadline(time.Now().Add(closeGrace))
}

// enqueueLocked queues f and starts the writer if none is running.
func (c *Conn) enqueueLocked(f frame) {
	if c.queue == nil {
		c.queue = queues.Get().(*queueArray)[:0]
	}
	c.queue = append(c.queue, f)
	c.bytes += len(f.payload)
	c.msgs += f.n
	c.startWriterLocked()
}

// queueArray is the first array of a connection's queue. A connection
// that goes idle gives its queue back (idle connections keep none), and
// the next burst, of this connection or another, takes one from queues
// instead of allocating it anew.
type queueArray [queueArrayLen]frame

const queueArrayLen = 8 // a sender's own event, its ack and a few more

var queues = sync.Pool{New: func() any { return new(queueArray) }}

// putQueue gives q's array to queues if it is one (of queueArrayLen
// frames, cleared by the writer: no payload is kept alive).
func putQueue(q []frame) {
	if cap(q) == queueArrayLen {
		clear(q[:queueArrayLen])
		queues.Put((*queueArray)(q[:queueArrayLen]))
	}
}

// startWriterLocked starts the writer unless one is running.
func (c *Conn) startWriterLocked() {
	if !c.writing {
		c.writing = true
		c.writers.Add(1)
		workers.Go(c.writeLoop)
	}
}

// terminate closes the network connection; the read side then ends (a
// waiting goroutine's read fails; a parked connection is ended here, as
// its descriptor leaves the epoll set without an event).
func (c *Conn) terminate() {
	c.closeOnce.Do(func() { _ = c.conn.Close() })
	c.endParked(errClosed)
}

// errClosed reports a connection that ended without a close frame.
var errClosed = errors.New("wsconn: connection closed")

// Serve runs the connection until it ends, calling onText for each
// complete text message, in order, one at a time; the payload is only
// valid during the call. When ctx ends the connection is closed with 1001
// (going away). Serve closes the network connection and waits for the
// writer before it returns the reason the connection ended: nil for a
// close handshake, a *CloseError for a protocol violation, or the I/O
// error. It is Start, waited for.
func (c *Conn) Serve(ctx context.Context, onText func(payload []byte)) error {
	done := make(chan error, 1)
	c.Start(ctx, onText, func(err error) { done <- err })
	return <-done
}

// Start runs the connection as Serve does, and returns at once; onEnd gets
// what Serve would return, once, after everything else.
func (c *Conn) Start(ctx context.Context, onText func(payload []byte), onEnd func(error)) {
	c.onText, c.onEnd = onText, onEnd
	c.lastSeen = time.Now()
	c.wake = make(chan error)
	c.stopCtx = context.AfterFunc(ctx, func() { c.Close(ws.StatusGoingAway, "server shutting down") })
	go c.wait()
}

// finish ends the connection once the read side is done: a violation is
// answered with its close code, our close frame goes out, the peer gets a
// moment to read it, and then the network connection is closed.
func (c *Conn) finish(err error) {
	c.leavePoller()
	c.stopCtx()
	if errors.Is(err, errHandshakeDone) {
		err = nil // the close handshake is answered in control
	}
	var ce *CloseError
	switch {
	case errors.As(err, &ce):
		c.Close(ce.Code, ce.Reason)
	case err == nil:
	default:
		c.terminate() // the peer is gone: nothing can be written
	}
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.writers.Wait()
	if ce != nil {
		c.linger()
	}
	c.terminate()
	c.onEnd(err)
}

// lingerLimit bounds what linger reads and throws away.
const lingerLimit = 1 << 20

// linger reads and discards what the peer still sends, for up to
// closeGrace, before the connection is closed after a violation: closing a
// socket with unread data resets it, and the peer would lose our close
// frame (and its code) with it.
func (c *Conn) linger() {
	_ = c.conn.SetReadDeadline(time.Now().Add(closeGrace))
	var r io.Reader = c.src
	if c.br != nil {
		r = c.br // with what it buffered
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r, lingerLimit))
}
