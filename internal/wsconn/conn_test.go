package wsconn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/parley-chat/parley/internal/wsconn"
)

// server accepts one connection on loopback, upgrades it and serves it
// with wsconn; the test talks to it as a raw gobwas client.
type server struct {
	conn   chan *wsconn.Conn
	result chan error
	writes *atomic.Int64 // Write calls on the server's net.Conn
	reads  *atomic.Int64 // Read calls on it that returned data
}

type countingConn struct {
	net.Conn
	writes, reads *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.reads.Add(1)
	}
	return n, err
}

// SyscallConn lets wsconn wait for the connection with its poller, as it
// does for a real socket (withoutPoller turns that off).
func (c countingConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

// plainCountingConn has no descriptor to poll: wsconn waits for it on a
// goroutine of its own, as on systems without epoll.
type plainCountingConn struct{ countingConn }

func (plainCountingConn) SyscallConn() {}

// withoutPoller makes start serve its connection without the poller;
// parkAtOnce makes it park the connection after 1 ms of silence.
var withoutPoller, parkAtOnce atomic.Bool

// serverSendBuffer, when not 0, is the SO_SNDBUF start gives the server's
// side of the connection.
var serverSendBuffer atomic.Int64

// behaviour is what TestWithoutPoller and TestParked run again.
var behaviour = map[string]func(*testing.T){
	"Echo": TestEcho, "Order": TestQueuedFramesAreWrittenInOrderInFewWrites, "Fragments": TestFragmentedMessageIsReassembled,
	"Violations": TestViolationsCloseWithTheirCode, "PeerClose": TestPeerCloseIsEchoed,
	"Pings": TestPingsKeepAnsweringPeerAliveAndSilentPeerIsDropped, "SlowConsumer": TestSlowConsumerIsCutOff,
	"CloseFlushes": TestCloseFlushesQueuedFramesThenCloseFrame, "PingFlood": TestPingFloodWithoutReadingIsCutOff,
	"OneRead": TestAFrameThatArrivesWholeIsReadOnce,
}

// TestParked runs the behaviour tests again with connections that are
// handed to the poller whenever they are silent for a millisecond.
func TestParked(t *testing.T) {
	parkAtOnce.Store(true)
	defer parkAtOnce.Store(false)
	for name, test := range behaviour {
		t.Run(name, test)
	}
}

// TestWithoutPoller runs the behaviour tests again with a connection that
// waits on its own goroutine.
func TestWithoutPoller(t *testing.T) {
	withoutPoller.Store(true)
	defer withoutPoller.Store(false)
	for name, test := range behaviour {
		t.Run(name, test)
	}
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func start(t *testing.T, cfg wsconn.Config, onText func(c *wsconn.Conn, p []byte)) (*server, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{conn: make(chan *wsconn.Conn, 1), result: make(chan error, 1), writes: new(atomic.Int64), reads: new(atomic.Int64)}
	go func() {
		nc, err := ln.Accept()
		ln.Close()
		if err != nil {
			s.result <- err
			return
		}
		if _, err := ws.Upgrade(nc); err != nil {
			s.result <- err
			return
		}
		if n := serverSendBuffer.Load(); n > 0 {
			_ = nc.(*net.TCPConn).SetWriteBuffer(int(n))
		}
		var wrapped net.Conn = countingConn{nc, s.writes, s.reads}
		if withoutPoller.Load() {
			wrapped = plainCountingConn{countingConn{nc, s.writes, s.reads}}
		}
		if parkAtOnce.Load() {
			cfg.ParkAfter = time.Millisecond
		}
		c := wsconn.New(wrapped, nil, cfg)
		s.conn <- c
		s.result <- c.Serve(context.Background(), func(p []byte) {
			if onText != nil {
				onText(c, p)
			}
		})
	}()
	client, _, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return s, client
}

func echo(c *wsconn.Conn, p []byte) { c.Send(bytes.Clone(p)) }

func (s *server) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.result:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// readClose reads frames until a close frame and returns its code.
func readClose(t *testing.T, c net.Conn) ws.StatusCode {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := ws.ReadFrame(c)
		if err != nil {
			t.Fatalf("reading for a close frame: %v", err)
		}
		if f.Header.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(f.Payload)
			return code
		}
	}
}

func TestEcho(t *testing.T) {
	_, c := start(t, wsconn.Config{}, echo)
	for _, msg := range []string{"hello", strings.Repeat("x", 200), strings.Repeat("y", 70000)[:60000], "你好"} {
		if err := wsutil.WriteClientText(c, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		got, err := wsutil.ReadServerText(c)
		if err != nil || string(got) != msg {
			t.Fatalf("echo of %d bytes: got %d bytes, %v", len(msg), len(got), err)
		}
	}
}

// A frame that arrives whole costs the server one read: the wait for the
// next frame reads what woke it into the burst's buffer (a one-byte wait
// and a read of the rest were two).
func TestAFrameThatArrivesWholeIsReadOnce(t *testing.T) {
	s, c := start(t, wsconn.Config{}, echo)
	<-s.conn
	const n = 50
	before := s.reads.Load()
	for i := range n {
		msg := fmt.Sprintf(`{"type":"send","room":"lobby","text":"message %d","ref":"%d"}`, i, i)
		// Header, mask and payload in one write, as browsers send them.
		var b bytes.Buffer
		if err := ws.WriteFrame(&b, ws.MaskFrame(ws.NewTextFrame([]byte(msg)))); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(b.Bytes()); err != nil {
			t.Fatal(err)
		}
		got, err := wsutil.ReadServerText(c)
		if err != nil || string(got) != msg {
			t.Fatalf("echo %d: %q, %v", i, got, err)
		}
	}
	if reads := s.reads.Load() - before; reads > n+5 {
		t.Fatalf("%d frames, each written at once, took %d reads that returned data; want about one each", n, reads)
	}
}

func TestQueuedFramesAreWrittenInOrderInFewWrites(t *testing.T) {
	s, c := start(t, wsconn.Config{}, nil)
	conn := <-s.conn
	const n = 500
	for i := 0; i < n; i++ {
		if !conn.Send([]byte(strings.Repeat("m", 10) + string(rune('a'+i%26)))) {
			t.Fatal("Send refused")
		}
	}
	for i := 0; i < n; i++ {
		got, err := wsutil.ReadServerText(c)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Repeat("m", 10) + string(rune('a'+i%26)); string(got) != want {
			t.Fatalf("frame %d = %q; want %q", i, got, want)
		}
	}
	if w := s.writes.Load(); w >= n/5 {
		t.Errorf("%d frames took %d writes; want them batched", n, w)
	}
}

// Pre-framed batches (a room's fan-out) and single frames queued together
// reach the peer in queue order, as separate messages — also when the
// queue is larger than one copying write (the writev path), and a batch
// counts as its number of messages against the outbox limit.
func TestFramedBatchesAndSingleFramesKeepOrder(t *testing.T) {
	s, c := start(t, wsconn.Config{OutboxMessages: 5000, OutboxBytes: 8 << 20}, nil)
	conn := <-s.conn
	var want []string
	batch := func(prefix string, n, size int) {
		payloads := make([][]byte, n)
		for i := range payloads {
			m := fmt.Sprintf("%s%d-%s", prefix, i, strings.Repeat("x", size))
			payloads[i] = []byte(m)
			want = append(want, m)
		}
		if !conn.SendFramed(wsconn.AppendText(nil, payloads), n) {
			t.Fatal("SendFramed refused")
		}
	}
	single := func(m string) {
		want = append(want, m)
		if !conn.Send([]byte(m)) {
			t.Fatal("Send refused")
		}
	}
	batch("a", 10, 20)
	single("one")
	batch("b", 300, 400) // ~120 KB: past the copying limit
	single(strings.Repeat("y", 70000))
	batch("c", 3, 0)
	for i, w := range want {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := wsutil.ReadServerText(c)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if string(got) != w {
			t.Fatalf("message %d = %.40q; want %.40q", i, got, w)
		}
	}
}

// A batch that would take the outbox past its message limit cuts the
// connection off as a slow consumer, like single frames do.
func TestFramedBatchCountsAgainstTheOutboxLimit(t *testing.T) {
	s, c := start(t, wsconn.Config{OutboxMessages: 10}, nil)
	conn := <-s.conn
	payloads := make([][]byte, 11)
	for i := range payloads {
		payloads[i] = []byte("m")
	}
	if conn.SendFramed(wsconn.AppendText(nil, payloads), len(payloads)) {
		t.Fatal("a batch of 11 messages was queued on an outbox of 10")
	}
	if got := readClose(t, c); got != wsconn.CloseSlowConsumer {
		t.Errorf("close code = %d; want %d (slow consumer)", got, wsconn.CloseSlowConsumer)
	}
	_ = s.wait(t)
}

// Frames that trickle in one at a time to a busy connection (a chat room
// under load: one message every 200 µs) are coalesced into few writes;
// a quiet connection's first frame goes out at once.
func TestBusyConnectionCoalescesWrites(t *testing.T) {
	s, c := start(t, wsconn.Config{}, nil)
	conn := <-s.conn
	begin := time.Now()
	conn.Send([]byte("first"))
	if got, err := wsutil.ReadServerText(c); err != nil || string(got) != "first" || time.Since(begin) > 500*time.Millisecond {
		t.Fatalf("first frame %q, %v after %v", got, err, time.Since(begin))
	}
	const n = 100
	go func() {
		for i := 0; i < n; i++ {
			conn.Send([]byte(fmt.Sprint("m", i)))
			for t0 := time.Now(); time.Since(t0) < 200*time.Microsecond; { // Sleep is too coarse here
			}
		}
	}()
	for i := 0; i < n; i++ {
		if got, err := wsutil.ReadServerText(c); err != nil || string(got) != fmt.Sprint("m", i) {
			t.Fatalf("frame %d = %q, %v", i, got, err)
		}
	}
	if w := s.writes.Load(); w > n/2 {
		t.Errorf("%d frames arriving 200 µs apart took %d writes; want them coalesced", n, w)
	}
}

func TestFragmentedMessageIsReassembled(t *testing.T) {
	_, c := start(t, wsconn.Config{}, echo)
	frames := []ws.Frame{
		ws.NewFrame(ws.OpText, false, []byte("hel")),
		ws.NewFrame(ws.OpPing, true, []byte("p")), // control frames may come between fragments
		ws.NewFrame(ws.OpContinuation, false, []byte("lo ")),
		ws.NewFrame(ws.OpContinuation, true, []byte("world")),
	}
	for _, f := range frames {
		if err := ws.WriteFrame(c, ws.MaskFrame(f)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := wsutil.ReadServerText(c)
	if err != nil || string(got) != "hello world" {
		t.Errorf("reassembled = %q, %v; want hello world", got, err)
	}
}

func TestViolationsCloseWithTheirCode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame ws.Frame
		mask  bool
		want  ws.StatusCode
	}{
		{"over the read limit", ws.NewTextFrame(make([]byte, 2000)), true, ws.StatusMessageTooBig},
		{"invalid UTF-8", ws.NewTextFrame([]byte{0xff, 0xfe}), true, ws.StatusInvalidFramePayloadData},
		{"binary", ws.NewBinaryFrame([]byte{1, 2}), true, ws.StatusUnsupportedData},
		{"unmasked", ws.NewTextFrame([]byte("hi")), false, ws.StatusProtocolError},
		{"continuation first", ws.NewFrame(ws.OpContinuation, true, []byte("x")), true, ws.StatusProtocolError},
		{"fragmented ping", ws.NewFrame(ws.OpPing, false, nil), true, ws.StatusProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := start(t, wsconn.Config{ReadLimit: 1024}, echo)
			f := tc.frame
			if tc.mask {
				f = ws.MaskFrame(f)
			}
			if err := ws.WriteFrame(c, f); err != nil {
				t.Fatal(err)
			}
			if got := readClose(t, c); got != tc.want {
				t.Errorf("close code = %d; want %d", got, tc.want)
			}
			var ce *wsconn.CloseError
			if err := s.wait(t); !errors.As(err, &ce) || ce.Code != tc.want {
				t.Errorf("Serve = %v; want a CloseError %d", err, tc.want)
			}
		})
	}
}

func TestPeerCloseIsEchoed(t *testing.T) {
	s, c := start(t, wsconn.Config{}, echo)
	if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")))); err != nil {
		t.Fatal(err)
	}
	if got := readClose(t, c); got != ws.StatusNormalClosure {
		t.Errorf("echoed close code = %d; want 1000", got)
	}
	if err := s.wait(t); err != nil {
		t.Errorf("Serve = %v; want nil after a close handshake", err)
	}
}

func TestPingsKeepAnsweringPeerAliveAndSilentPeerIsDropped(t *testing.T) {
	cfg := wsconn.Config{PingPeriod: 50 * time.Millisecond, PongWait: 200 * time.Millisecond}
	s, c := start(t, cfg, echo)
	// wsutil.ReadServerText answers pings with pongs: the connection lives.
	deadline := time.Now().Add(1200 * time.Millisecond)
	pings := 0
	for time.Now().Before(deadline) {
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		h, err := ws.ReadHeader(c)
		if err != nil {
			continue
		}
		payload := make([]byte, h.Length)
		if _, err := c.Read(payload); h.Length > 0 && err != nil {
			t.Fatal(err)
		}
		if h.OpCode == ws.OpPing {
			pings++
			if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewPongFrame(payload))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if pings < 3 {
		t.Errorf("%d pings in 1.2 s with a 50 ms period; want several", pings)
	}
	select {
	case err := <-s.result:
		t.Fatalf("connection ended while the peer answered pings: %v", err)
	default:
	}
	// Now stay silent: dropped after PongWait.
	start := time.Now()
	err := s.wait(t)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("silent peer: Serve = %v after %v; want an error after about 200 ms", err, time.Since(start))
	}
}

func TestSlowConsumerIsCutOff(t *testing.T) {
	s, c := start(t, wsconn.Config{OutboxMessages: 100, OutboxBytes: 64 << 10, WriteWait: time.Second}, nil)
	conn := <-s.conn
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	payload := make([]byte, 1024)
	refused := false
	for i := 0; i < 100_000 && !refused; i++ {
		refused = !conn.Send(payload)
		if i%100 == 0 {
			time.Sleep(time.Millisecond) // let the writer fill the socket
		}
	}
	if !refused {
		t.Fatal("Send never refused a peer that does not read")
	}
	if err := s.wait(t); err == nil {
		t.Log("Serve returned nil")
	}
	if conn.Send([]byte("x")) {
		t.Error("Send accepted a frame after the connection was cut off")
	}
}

func TestCloseFlushesQueuedFramesThenCloseFrame(t *testing.T) {
	s, c := start(t, wsconn.Config{}, nil)
	conn := <-s.conn
	conn.Send([]byte("one"))
	conn.Send([]byte("two"))
	conn.Close(ws.StatusGoingAway, "server shutting down")
	conn.Close(ws.StatusInternalServerError, "second close is ignored")
	for _, want := range []string{"one", "two"} {
		if got, err := wsutil.ReadServerText(c); err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	if got := readClose(t, c); got != ws.StatusGoingAway {
		t.Errorf("close code = %d; want 1001", got)
	}
	s.wait(t)
}

func TestContextCancelClosesAsGoingAwayAndLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		if _, err := ws.Upgrade(nc); err != nil {
			return
		}
		_ = wsconn.New(nc, nil, wsconn.Config{}).Serve(ctx, func([]byte) {})
	}()
	c, _, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if got := readClose(t, c); got != ws.StatusGoingAway {
		t.Errorf("close code = %d; want 1001", got)
	}
	_ = ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, ""))))
	wg.Wait()
	c.Close()
	ln.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Serve returned; %d before", n, before)
	}
}

func TestPingFloodWithoutReadingIsCutOff(t *testing.T) {
	// WriteWait is long: only the outbox limit can end this quickly. The
	// server's socket buffer is small, so that the pongs fill it after a
	// few hundred pings rather than the tens of thousands a default one
	// holds on loopback (which a loaded CI machine under -race took more
	// than 8 s to answer).
	serverSendBuffer.Store(4096)
	defer serverSendBuffer.Store(0)
	s, c := start(t, wsconn.Config{OutboxMessages: 50, OutboxBytes: 64 << 10, WriteWait: time.Minute}, nil)
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	begin := time.Now()
	ping := ws.MustCompileFrame(ws.MaskFrame(ws.NewPingFrame(make([]byte, 125))))
	flood := make(chan struct{})
	go func() {
		defer close(flood)
		for i := 0; i < 200_000; i++ {
			if _, err := c.Write(ping); err != nil {
				return // the server cut us off (or we closed)
			}
		}
	}()
	// What is measured is when the server ends the connection: when our
	// blocked write learns of it is up to the kernel (a reset may not come
	// at once when the server had read everything before it closed).
	err := s.wait(t)
	took := time.Since(begin)
	c.Close()
	<-flood
	if err == nil || took > 8*time.Second {
		t.Errorf("ping flood: Serve = %v after %v; want the connection cut off within seconds", err, took)
	}
}
