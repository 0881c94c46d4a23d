package wsconn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/parley-chat/parley/internal/gopool"
)

// CloseError is a protocol violation by the peer: the connection is closed
// with Code.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

// Error implements the error interface.
func (e *CloseError) Error() string { return fmt.Sprintf("wsconn: close %d: %s", e.Code, e.Reason) }

func violation(code ws.StatusCode, reason string) error {
	return &CloseError{Code: code, Reason: reason}
}

// errPingTimeout reports a peer that stayed silent for PongWait.
var errPingTimeout = errors.New("wsconn: no frame from the peer within the pong wait")

// errHandshakeDone ends the read side after a completed close handshake.
var errHandshakeDone = errors.New("wsconn: close handshake done")

// workers run the bursts' reading and handling and the writers: a burst's
// goroutine goes deep (decoding, the command, queuing its answer), and
// one started per message grew its stack every time (gopool). Workers
// linger 20 ms: long enough to be reused under load, short enough that
// the connect storm of thousands of idle connections leaves no grown
// stacks behind (250 ms cost 0.5 KiB per idle connection).
var workers = gopool.New(20 * time.Millisecond)

// errParked ends the waiting goroutine of a connection that went quiet:
// the process's poller waits for it now (idle.go).
var errParked = errors.New("wsconn: parked in the poller")

// wait is the goroutine of an active connection, and all it does is wait:
// for the next frame to begin (with the ping and pong-wait deadlines),
// then for a short-lived goroutine to read and handle what arrived. It
// never calls anything deep, so it keeps the smallest stack. It waits with
// a read into a pooled buffer, so that what woke it — usually a whole
// frame — is read with that one read(2) and the burst's goroutine goes on
// from it (a one-byte wait cost a read per frame more). After ParkAfter of
// silence it gives the buffer back, hands the connection to the process's
// poller and returns: an idle connection holds neither a goroutine nor a
// buffer. When the connection ends it hands the cleanup to a goroutine of
// its own and returns.
func (c *Conn) wait() {
	for {
		err := c.awaitByte()
		if err == errParked {
			return
		}
		if err == nil {
			workers.Go(c.readBurst)
			err = <-c.wake
		}
		if err != nil {
			go c.finish(err)
			return
		}
	}
}

// awaitByte waits for the first byte of the next frame. While the peer is
// silent it sends a ping every PingPeriod; after PongWait of silence, or
// once the connection is closing and the peer did not answer, it gives up.
// Only this wait may time out: a timeout inside a frame would lose its
// framing.
func (c *Conn) awaitByte() error {
	for {
		now := time.Now()
		deadline := min(c.lastSeen.Add(c.cfg.PongWait).UnixNano(), now.Add(c.cfg.PingPeriod).UnixNano())
		c.mu.Lock()
		closing, closeBy := c.closing, c.closeBy
		c.mu.Unlock()
		if !c.noPark && !closing { // a closing connection is not parked: no short waits for it
			deadline = min(deadline, max(c.lastSeen.Add(c.cfg.ParkAfter).UnixNano(), now.Add(time.Millisecond).UnixNano()))
		}
		if closing && !closeBy.IsZero() {
			// Our close frame is out: a peer that keeps sending instead of
			// answering it is not waited for beyond closeBy.
			if !now.Before(closeBy) {
				return errClosed
			}
			deadline = min(deadline, closeBy.UnixNano())
		}
		if c.br == nil {
			c.br = readers.Get().(*bufio.Reader)
			c.br.Reset(c.src)
		}
		_ = c.conn.SetReadDeadline(time.Unix(0, deadline))
		_, err := c.br.Peek(1) // what has arrived, up to readBufferSize
		if err == nil {
			// A frame has begun: allow the rest of it PongWait (or what
			// is left of the close grace).
			frameDeadline := time.Now().Add(c.cfg.PongWait)
			if closing && !closeBy.IsZero() && closeBy.Before(frameDeadline) {
				frameDeadline = closeBy
			}
			_ = c.conn.SetReadDeadline(frameDeadline)
			if !closing || closeBy.IsZero() {
				// The writer may have sent our close frame since we looked
				// and set the shorter deadline (wakeForClose) that ours just
				// replaced: look again, after setting ours. (Missed, a peer
				// flooding a closing connection kept it reading for as long
				// as it flooded.)
				c.mu.Lock()
				closing, closeBy = c.closing, c.closeBy
				c.mu.Unlock()
				if closing && !closeBy.IsZero() && closeBy.Before(frameDeadline) {
					_ = c.conn.SetReadDeadline(closeBy)
				}
			}
			c.lastSeen = time.Now()
			return nil
		}
		// A plain type assertion, not errors.As: its reflection would grow
		// this goroutine's stack for good.
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			return err
		}
		switch now = time.Now(); {
		case closing && !closeBy.IsZero() && !now.Before(closeBy):
			return errClosed // the peer did not answer our close frame
		case now.Sub(c.lastSeen) >= c.cfg.PongWait:
			return errPingTimeout
		case !closing && !c.noPark && now.Sub(c.lastSeen) >= c.cfg.ParkAfter && c.releaseReader() && c.park():
			return errParked
		case now.Sub(c.pinged) >= c.cfg.PingPeriod && now.Sub(c.lastSeen) >= c.cfg.PingPeriod:
			c.pinged = now
			go c.control0(ws.OpPing, nil) // queueing allocates: not on the waiter's stack
		}
	}
}

// readBurst reads and handles frames from the buffer the waiter filled
// until it is empty at a frame boundary (nil to the waiting goroutine:
// wait again) or the connection must end.
func (c *Conn) readBurst() {
	c.wake <- c.readFrames()
}

// readers are the read buffers of active connections.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// releaseReader gives the waiter's buffer back (it holds nothing: the
// waiter is between frames) before the connection is parked; once parked,
// another goroutine may wait for it. It returns true, for use in a
// condition.
func (c *Conn) releaseReader() bool {
	if c.br != nil && c.br.Buffered() == 0 {
		c.br.Reset(nil)
		readers.Put(c.br)
		c.br = nil
	}
	return true
}

// readFrames reads frames while data is buffered. It returns nil at a
// frame boundary with nothing buffered, errHandshakeDone after a close
// handshake, a *CloseError for a violation, or the read error.
func (c *Conn) readFrames() error {
	for {
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			return err
		}
		if err := checkHeader(h); err != nil {
			return err
		}
		if h.OpCode.IsControl() {
			done, err := c.control(h)
			switch {
			case err != nil:
				return err
			case done:
				return errHandshakeDone
			}
		} else if err := c.dataFrame(h); err != nil {
			return err
		}
		if c.br.Buffered() == 0 {
			if !c.inMessage {
				c.msg = nil // an idle connection keeps no message buffer
			}
			return nil
		}
	}
}

// dataFrame reads a text frame (or a fragment of one) and hands a complete
// message to onText.
func (c *Conn) dataFrame(h ws.Header) error {
	switch {
	case h.OpCode == ws.OpContinuation && !c.inMessage:
		return violation(ws.StatusProtocolError, "continuation frame without a message")
	case h.OpCode != ws.OpContinuation && c.inMessage:
		return violation(ws.StatusProtocolError, "new message inside a fragmented one")
	case h.OpCode == ws.OpBinary:
		return violation(ws.StatusUnsupportedData, "binary messages are not supported; send JSON text")
	case int64(len(c.msg))+h.Length > c.cfg.ReadLimit:
		return violation(ws.StatusMessageTooBig, fmt.Sprintf("message larger than %d bytes", c.cfg.ReadLimit))
	}
	msg, err := c.readPayload(c.msg, h)
	c.msg = msg
	if err != nil {
		return err
	}
	if c.inMessage = !h.Fin; c.inMessage {
		return nil
	}
	if !utf8.Valid(msg) {
		return violation(ws.StatusInvalidFramePayloadData, "text message is not valid UTF-8")
	}
	c.onText(msg)
	c.msg = msg[:0]
	if cap(msg) > readBufferSize {
		c.msg = nil // do not keep a large buffer
	}
	return nil
}

func checkHeader(h ws.Header) error {
	switch {
	case h.Rsv != 0:
		return violation(ws.StatusProtocolError, "reserved bits set (no extension was negotiated)")
	case !h.Masked:
		return violation(ws.StatusProtocolError, "client frames must be masked")
	case h.OpCode.IsReserved():
		return violation(ws.StatusProtocolError, "reserved opcode")
	case h.OpCode.IsControl() && (h.Length > 125 || !h.Fin):
		return violation(ws.StatusProtocolError, "control frames are at most 125 bytes and not fragmented")
	}
	return nil
}

// readPayload appends the frame's unmasked payload to buf.
func (c *Conn) readPayload(buf []byte, h ws.Header) ([]byte, error) {
	n := len(buf)
	if free := cap(buf) - n; int64(free) < h.Length {
		grown := make([]byte, n, n+int(h.Length))
		copy(grown, buf)
		buf = grown
	}
	buf = buf[:n+int(h.Length)]
	if _, err := io.ReadFull(c.br, buf[n:]); err != nil {
		return buf, err
	}
	ws.Cipher(buf[n:], h.Mask, 0)
	return buf, nil
}

// control handles a ping, pong or close frame; done reports a completed
// close handshake.
func (c *Conn) control(h ws.Header) (done bool, err error) {
	payload, err := c.readPayload(nil, h)
	if err != nil {
		return false, err
	}
	switch h.OpCode {
	case ws.OpPing:
		c.control0(ws.OpPong, payload)
	case ws.OpClose:
		if len(payload) == 1 {
			return true, violation(ws.StatusProtocolError, "close frame with a one-byte body")
		}
		code, reason := ws.ParseCloseFrameData(payload)
		if len(payload) >= 2 && ws.CheckCloseFrameData(code, reason) != nil {
			return true, violation(ws.StatusProtocolError, "invalid close code or reason")
		}
		if code.Empty() {
			code = ws.StatusNormalClosure
		}
		c.Close(code, "") // echo the peer's code; a no-op if we started the close
		return true, nil
	}
	return false, nil
}

// control0 queues a control frame unless the connection is closing. The
// outbox limits apply: a peer that floods pings without reading the pongs
// is a slow consumer like any other.
func (c *Conn) control0(op ws.OpCode, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closing:
	case c.msgs+1 > c.cfg.OutboxMessages || c.bytes+len(payload) > c.cfg.OutboxBytes:
		c.slowConsumerLocked()
	default:
		c.enqueueLocked(frame{op, payload, 1})
	}
}
