// Package wstest is a native-protocol test client for end-to-end tests: a
// real WebSocket connection (gobwas/ws) to a running server, with helpers to
// send commands and wait for the frames that answer them.
package wstest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Timeout bounds every wait of a Client.
const Timeout = 5 * time.Second

// Frame is one decoded server frame.
type Frame map[string]any

// Type returns the frame's "type".
func (f Frame) Type() string { s, _ := f["type"].(string); return s }

// Str returns a string field.
func (f Frame) Str(key string) string { s, _ := f[key].(string); return s }

// Msg returns the "msg" object of a message, mention or ack frame.
func (f Frame) Msg() Frame { m, _ := f["msg"].(map[string]any); return m }

// Num returns a numeric field as int64.
func (f Frame) Num(key string) int64 { n, _ := f[key].(float64); return int64(n) }

// Client is one test connection. Frames are read by a goroutine that ends
// when the connection does.
type Client struct {
	tb       testing.TB
	conn     net.Conn
	wmu      sync.Mutex
	frames   chan Frame
	backlog  []Frame // frames read but not yet matched; used only by the test goroutine
	closed   chan struct{}
	mu       sync.Mutex
	closeErr error // how the read loop ended; a wsutil.ClosedError for a close frame
	ref      int

	stopped   atomic.Bool   // StopReading was called
	unblock   chan struct{} // closed by Close: a stopped read loop may end
	closeOnce sync.Once
}

// Dial connects to url (ws://host/ws) with the given extra header (may be
// nil) and fails the test on error.
func Dial(tb testing.TB, url string, header http.Header) *Client {
	tb.Helper()
	c, err := TryDial(url, header)
	if err != nil {
		tb.Fatalf("dial %s: %v", url, err)
	}
	c.tb = tb
	tb.Cleanup(c.Close)
	return c
}

// TryDial connects to url and returns the error instead of failing.
func TryDial(url string, header http.Header) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(header)}
	conn, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn, frames: make(chan Frame, 4096), closed: make(chan struct{}), unblock: make(chan struct{})}
	go c.readLoop(br)
	return c, nil
}

func (c *Client) readLoop(br *bufio.Reader) {
	defer close(c.closed)
	var r io.Reader = c.conn
	if br != nil {
		r = br
	}
	// The reader answers pings and close frames by writing: share the lock.
	rw := struct {
		io.Reader
		io.Writer
	}{r, lockedWriter{c}}
	for {
		data, err := wsutil.ReadServerText(rw)
		if err != nil {
			c.mu.Lock()
			c.closeErr = err
			c.mu.Unlock()
			return
		}
		var f Frame
		if err := json.Unmarshal(data, &f); err != nil {
			f = Frame{"type": "!notjson", "raw": string(data)}
		}
		select {
		case c.frames <- f:
		default: // a test that does not read its frames loses them
		}
		if c.stopped.Load() {
			<-c.unblock
			return
		}
	}
}

// StopReading makes the client stop reading its socket, like a stuck or
// slow peer: the server's frames pile up in the socket buffers and then in
// the server's outbox. The socket's receive buffer is made small so that
// happens soon.
func (c *Client) StopReading() {
	if tc, ok := c.conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	c.stopped.Store(true)
}

type lockedWriter struct{ c *Client }

// Write writes p under the client's write lock.
func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.wmu.Lock()
	defer w.c.wmu.Unlock()
	return w.c.conn.Write(p)
}

// NextRef returns a fresh command reference.
func (c *Client) NextRef() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ref++
	return fmt.Sprint(c.ref)
}

// SendRaw writes one text frame.
func (c *Client) SendRaw(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(Timeout))
	return wsutil.WriteClientText(c.conn, data)
}

// Send writes cmd as JSON and fails the test on error.
func (c *Client) Send(cmd map[string]any) {
	c.tb.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		c.tb.Fatalf("marshal: %v", err)
	}
	if err := c.SendRaw(b); err != nil {
		c.tb.Fatalf("send %s: %v", b, err)
	}
}

// Request sends cmd with a fresh ref and returns the frame answering it
// (a reply or an error), skipping other frames.
func (c *Client) Request(cmd map[string]any) Frame {
	c.tb.Helper()
	ref := c.NextRef()
	cmd["ref"] = ref
	c.Send(cmd)
	return c.Expect(func(f Frame) bool { return f.Str("ref") == ref })
}

// MustOK is Request that fails the test on an error reply.
func (c *Client) MustOK(cmd map[string]any) Frame {
	c.tb.Helper()
	f := c.Request(cmd)
	if f.Type() == "error" {
		c.tb.Fatalf("%v: error %s: %s", cmd, f.Str("code"), f.Str("message"))
	}
	return f
}

// Hello says hello as nick and returns the welcome.
func (c *Client) Hello(nick string) Frame {
	c.tb.Helper()
	return c.MustOK(map[string]any{"type": "hello", "nickname": nick})
}

// Join joins room and returns the ack.
func (c *Client) Join(room string) Frame {
	c.tb.Helper()
	return c.MustOK(map[string]any{"type": "join", "room": room})
}

// Expect returns the first frame matching pred, dropping the frames before
// it, and fails the test if none comes within Timeout.
func (c *Client) Expect(pred func(Frame) bool) Frame {
	c.tb.Helper()
	f, ok := c.Wait(Timeout, pred)
	if !ok {
		c.tb.Fatalf("no matching frame within %v (connection ended: %v)", Timeout, c.CloseErr())
	}
	return f
}

// ExpectType returns the next frame of type typ.
func (c *Client) ExpectType(typ string) Frame {
	c.tb.Helper()
	return c.Expect(func(f Frame) bool { return f.Type() == typ })
}

// Wait returns the first frame matching pred within d. Frames that do not
// match stay queued, in order, for later waits: a reply does not swallow the
// events that arrived before it.
func (c *Client) Wait(d time.Duration, pred func(Frame) bool) (Frame, bool) {
	for i, f := range c.backlog {
		if pred(f) {
			c.backlog = append(c.backlog[:i:i], c.backlog[i+1:]...)
			return f, true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		var f Frame
		select {
		case f = <-c.frames:
		case <-c.closed:
			select {
			case f = <-c.frames:
			default:
				return nil, false
			}
		case <-timer.C:
			return nil, false
		}
		if pred(f) {
			return f, true
		}
		c.backlog = append(c.backlog, f)
	}
}

// ExpectNone fails the test if a frame matching pred arrives within d.
func (c *Client) ExpectNone(d time.Duration, pred func(Frame) bool) {
	c.tb.Helper()
	if f, ok := c.Wait(d, pred); ok {
		c.tb.Fatalf("unexpected frame: %v", f)
	}
}

// Closed reports whether the connection has ended, waiting up to d.
func (c *Client) Closed(d time.Duration) bool {
	select {
	case <-c.closed:
		return true
	case <-time.After(d):
		return false
	}
}

// CloseErr returns how the connection ended, or nil while it is open.
func (c *Client) CloseErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// CloseCode returns the close code the server sent, or 0.
func (c *Client) CloseCode() ws.StatusCode {
	if ce, ok := c.CloseErr().(wsutil.ClosedError); ok {
		return ce.Code
	}
	return 0
}

// Conn returns the underlying connection (to stop reading, or cut it).
func (c *Client) Conn() net.Conn { return c.conn }

// Close closes the connection without a close handshake.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		close(c.unblock)
		_ = c.conn.Close()
	})
}

// WSURL turns an http:// base URL into the ws:// URL of the endpoint.
func WSURL(base string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/ws"
}
