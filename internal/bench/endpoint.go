package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// conn is a WebSocket client connection shared by both protocols: one
// reader goroutine, writes under a lock, replies matched by ref.
type conn struct {
	nc     net.Conn
	r      *bufio.Reader
	wmu    sync.Mutex
	wbuf   []byte // the frame being written, under wmu
	mu     sync.Mutex
	wait   map[string]func(frame []byte)
	nextID int
	onText func(c *conn, p []byte) // the protocol's frame handler
	onGone func()
	gone   chan struct{}
	closed bool
}

func dialWS(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), target string) (*conn, error) {
	d := ws.Dialer{NetDial: dial, Timeout: 30 * time.Second}
	nc, br, _, err := d.Dial(ctx, target)
	if err != nil {
		return nil, err
	}
	var src io.Reader = nc
	if br != nil && br.Buffered() > 0 { // the server spoke first
		buffered, _ := br.Peek(br.Buffered())
		src = io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), nc)
	}
	r := bufio.NewReaderSize(src, readBuffer)
	return &conn{nc: nc, r: r, wait: map[string]func([]byte){}, gone: make(chan struct{})}, nil
}

// readBuffer holds many frames, so that one read(2) takes a whole batch
// the server wrote at once.
const readBuffer = 16 << 10

// write sends p as one text frame.
func (c *conn) write(p []byte) error { return c.writeFrame(ws.OpText, p) }

// writeFrame sends p as one frame with one write(2).
func (c *conn) writeFrame(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = appendClientFrame(c.wbuf[:0], op, p, [4]byte(binary.LittleEndian.AppendUint32(nil, rand.Uint32())))
	_, err := c.nc.Write(c.wbuf)
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil // a large frame's buffer is not kept
	}
	return err
}

// serve reads until the connection ends.
func (c *conn) serve() {
	defer close(c.gone)
	fr := frameReader{r: c.r, limit: 1 << 20}
	for {
		op, p, err := fr.next()
		if err != nil {
			c.ended()
			return
		}
		switch op {
		case ws.OpText:
			c.onText(c, p)
		case ws.OpPing:
			_ = c.writeFrame(ws.OpPong, p)
		case ws.OpClose:
			c.ended()
			return
		}
	}
}

// ended reports a connection the server ended (not one we closed).
func (c *conn) ended() {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed && c.onGone != nil {
		c.onGone()
	}
}

// expect registers fn for the reply with id.
func (c *conn) expect(id string, fn func([]byte)) {
	c.mu.Lock()
	c.wait[id] = fn
	c.mu.Unlock()
}

func (c *conn) reply(id string, frame []byte) {
	c.mu.Lock()
	fn := c.wait[id]
	delete(c.wait, id)
	c.mu.Unlock()
	if fn != nil {
		fn(frame)
	}
}

func (c *conn) id() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	return strconv.Itoa(c.nextID)
}

func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	_ = c.nc.Close()
	<-c.gone
}

// call sends a command and waits for its answer.
func call(ctx context.Context, c *conn, id string, frame []byte) ([]byte, error) {
	got := make(chan []byte, 1)
	c.expect(id, func(f []byte) { got <- bytes.Clone(f) })
	if err := c.write(frame); err != nil {
		return nil, err
	}
	select {
	case f := <-got:
		return f, nil
	case <-c.gone:
		return nil, errors.New("connection closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		return nil, errors.New("no answer within 30 s")
	}
}

func newEndpoint(protocol string, u *url.URL, dial func(context.Context, string, string) (net.Conn, error), onMessage func([]byte), onGone func()) endpoint {
	if protocol == "socketio" {
		return &sioEndpoint{u: u, dial: dial, onMessage: onMessage, onGone: onGone}
	}
	return &nativeEndpoint{u: u, dial: dial, onMessage: onMessage, onGone: onGone}
}

// appendClientID appends the client_id of a send numbered seq on its
// connection, made as the web client makes its own (web/client.js): the
// time in milliseconds as 9 base-36 digits, so ids sort in the order they
// were made, then '-' and seq, which keeps the connection's ids unique.
func appendClientID(b []byte, seq string) []byte {
	var t [16]byte
	ms := strconv.AppendInt(t[:0], time.Now().UnixMilli(), 36)
	for i := len(ms); i < 9; i++ {
		b = append(b, '0')
	}
	b = append(b, ms...)
	b = append(b, '-')
	return append(b, seq...)
}

// appendJSONString appends s as a JSON string: as it is when it needs no
// escaping (the generator's rooms and texts), through encoding/json
// otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// refusal returns an answer that is an error, or nil for an ack.
func refusal(answer []byte) []byte {
	if bytes.Contains(answer, errType) {
		return answer
	}
	return nil
}

// textOf returns the "text" string of a message (no escapes: ours).
func textOf(p []byte) []byte {
	i := bytes.Index(p, []byte(`"text":"`))
	if i < 0 {
		return nil
	}
	p = p[i+8:]
	if j := bytes.IndexByte(p, '"'); j >= 0 {
		return p[:j]
	}
	return nil
}

func wsURL(u *url.URL, path string) string {
	scheme := "ws"
	if u.Scheme == "https" || u.Scheme == "wss" {
		scheme = "wss"
	}
	return scheme + "://" + u.Host + path
}

// nativeEndpoint speaks the native protocol at /ws.
type nativeEndpoint struct {
	u         *url.URL
	dial      func(context.Context, string, string) (net.Conn, error)
	onMessage func([]byte)
	onGone    func()
	c         *conn
}

var (
	refField  = []byte(`"ref":"`)
	msgPrefix = []byte(`{"type":"message"`)
	errType   = []byte(`"type":"error"`)
)

func (e *nativeEndpoint) hello(ctx context.Context, nick, room string) error {
	c, err := dialWS(ctx, e.dial, wsURL(e.u, "/ws"))
	if err != nil {
		return err
	}
	e.c = c
	c.onGone = e.onGone
	c.onText = func(c *conn, p []byte) {
		if bytes.HasPrefix(p, msgPrefix) {
			e.onMessage(textOf(p))
			return
		}
		if i := bytes.Index(p, refField); i >= 0 {
			rest := p[i+len(refField):]
			if j := bytes.IndexByte(rest, '"'); j >= 0 {
				c.reply(string(rest[:j]), p)
			}
		}
	}
	go c.serve()
	for _, cmd := range []map[string]any{{"type": "hello", "nickname": nick}, {"type": "join", "room": room}} {
		id := c.id()
		cmd["ref"] = id
		b, _ := json.Marshal(cmd)
		f, err := call(ctx, c, id, b)
		if err != nil {
			return err
		}
		if bytes.Contains(f, errType) {
			return fmt.Errorf("%s: %s", cmd["type"], f)
		}
	}
	return nil
}

func (e *nativeEndpoint) send(room, text string, done func(refusal []byte)) error {
	return e.post(`{"type":"send","room":`, room, text, done)
}

func (e *nativeEndpoint) direct(to, text string, done func(refusal []byte)) error {
	return e.post(`{"type":"dm","to":`, to, text, done)
}

// post sends a message command — head, then the room or recipient
// target — with text, a client_id and a ref; done gets the answer.
func (e *nativeEndpoint) post(head, target, text string, done func(refusal []byte)) error {
	id := e.c.id()
	e.c.expect(id, func(f []byte) { done(refusal(f)) })
	b := make([]byte, 0, 64+len(target)+len(text)+2*len(id))
	b = append(b, head...)
	b = appendJSONString(b, target)
	b = append(b, `,"text":`...)
	b = appendJSONString(b, text)
	b = append(b, `,"client_id":"`...)
	b = appendClientID(b, id) // base-36 digits, '-', digits
	b = append(b, `","ref":"`...)
	b = append(b, id...)
	b = append(b, `"}`...)
	return e.c.write(b)
}

func (e *nativeEndpoint) close() {
	if e.c != nil {
		e.c.close()
	}
}

// sioEndpoint speaks Socket.IO (Engine.IO 4, WebSocket only) at
// /socket.io/: "0" open, "40" connect, "42[…]" events, "42<id>[…]" emits
// with acks answered by "43<id>[…]", "2"/"3" ping and pong.
type sioEndpoint struct {
	u         *url.URL
	dial      func(context.Context, string, string) (net.Conn, error)
	onMessage func([]byte)
	onGone    func()
	c         *conn
}

var sioMessage = []byte(`42["message",`)

func (e *sioEndpoint) hello(ctx context.Context, nick, room string) error {
	// A CONNECT the server lost (zishang520/socket.io v3.0.2 could, under
	// load; see docs/ARCHITECTURE.md) is retried on a new connection, as
	// socket.io-client does: the generator also measures other servers.
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if err = e.connect(ctx); err == nil {
			break
		}
		if e.c != nil {
			e.c.close()
			e.c = nil
		}
	}
	if err != nil {
		return err
	}
	c := e.c
	for _, ev := range []struct {
		name string
		arg  map[string]any
	}{{"hello", map[string]any{"nickname": nick}}, {"join", map[string]any{"room": room}}} {
		id := c.id()
		b, _ := json.Marshal([]any{ev.name, ev.arg})
		f, err := call(ctx, c, id, append([]byte("42"+id), b...))
		if err != nil {
			return err
		}
		if bytes.Contains(f, errType) {
			return fmt.Errorf("%s: %s", ev.name, f)
		}
	}
	return nil
}

// connect opens the WebSocket and the Socket.IO session.
func (e *sioEndpoint) connect(ctx context.Context) error {
	c, err := dialWS(ctx, e.dial, wsURL(e.u, "/socket.io/?EIO=4&transport=websocket"))
	if err != nil {
		return err
	}
	e.c = c
	c.onGone = e.onGone
	connected := make(chan struct{}, 1)
	c.onText = func(c *conn, p []byte) {
		switch {
		case bytes.HasPrefix(p, sioMessage):
			e.onMessage(textOf(p))
		case bytes.HasPrefix(p, []byte("43")):
			i := 2
			for i < len(p) && p[i] >= '0' && p[i] <= '9' {
				i++
			}
			c.reply(string(p[2:i]), p[i:])
		case len(p) == 1 && p[0] == '2':
			_ = c.write([]byte("3"))
		case bytes.HasPrefix(p, []byte("40")):
			select {
			case connected <- struct{}{}:
			default:
			}
		}
	}
	go c.serve()
	if err := c.write([]byte("40")); err != nil {
		return err
	}
	select {
	case <-connected:
		return nil
	case <-c.gone:
		return errors.New("connection closed before CONNECT")
	case <-time.After(3 * time.Second):
		return errors.New("no Socket.IO CONNECT within 3 s")
	}
}

func (e *sioEndpoint) send(room, text string, done func(refusal []byte)) error {
	return e.emit("send", "room", room, text, done)
}

func (e *sioEndpoint) direct(to, text string, done func(refusal []byte)) error {
	return e.emit("dm", "to", to, text, done)
}

// emit sends event with {key: target, text, client_id} and an ack id;
// done gets the ack.
func (e *sioEndpoint) emit(event, key, target, text string, done func(refusal []byte)) error {
	id := e.c.id()
	e.c.expect(id, func(f []byte) { done(refusal(f)) })
	b, _ := json.Marshal([]any{event, map[string]any{key: target, "text": text, "client_id": string(appendClientID(nil, id))}})
	return e.c.write(append([]byte("42"+id), b...))
}

func (e *sioEndpoint) close() {
	if e.c != nil {
		e.c.close()
	}
}
