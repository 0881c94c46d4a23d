package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/parley-chat/parley/internal/wstest"
)

// Tests that try to break the promises of docs/GUARANTEES.md.

// TestLostAckResendYieldsOneMessage: the connection is cut after the
// server stored a message but before the client read the ack; the resend
// with the same client_id returns the original and stores nothing new.
func TestLostAckResendYieldsOneMessage(t *testing.T) {
	s := startServer(t)
	watcher := s.client("watcher")
	watcher.Join("lobby")
	alice := s.client("")
	w := alice.Hello("alice")
	alice.Join("lobby")
	// Send, then close at once without reading: the ack is lost.
	if err := alice.SendRaw([]byte(`{"type":"send","room":"lobby","text":"only once","client_id":"lost-1","ref":"x"}`)); err != nil {
		t.Fatal(err)
	}
	alice.Close()
	first := watcher.Expect(func(f wstest.Frame) bool { return f.Type() == "message" && f.Msg().Str("text") == "only once" }).Msg()

	again := s.client("")
	again.MustOK(map[string]any{"type": "hello", "token": w.Str("token")})
	again.Join("lobby")
	ack := again.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "only once", "client_id": "lost-1"})
	if ack["duplicate"] != true || ack.Msg().Num("id") != first.Num("id") || ack.Msg().Num("seq") != first.Num("seq") {
		t.Errorf("resend ack %v; want the original message (id %d, seq %d), duplicate", ack, first.Num("id"), first.Num("seq"))
	}
	watcher.ExpectNone(300*time.Millisecond, func(f wstest.Frame) bool { return f.Type() == "message" && f.Msg().Str("text") == "only once" })
	// Also after a restart.
	s = s.restart()
	late := s.client("")
	late.MustOK(map[string]any{"type": "hello", "token": w.Str("token")})
	late.Join("lobby")
	if ack := late.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "only once", "client_id": "lost-1"}); ack["duplicate"] != true || ack.Msg().Num("id") != first.Num("id") {
		t.Errorf("resend after restart: %v", ack)
	}
	h := late.MustOK(map[string]any{"type": "history", "room": "lobby"})
	if n := strings.Count(fmt.Sprint(h["messages"]), "text:only once"); n != 1 {
		t.Errorf("history holds the message %d times; want 1", n)
	}
}

// counter is a light native client for load: it counts message frames
// without decoding them.
type counter struct {
	conn     net.Conn
	messages atomic.Int64
	closed   chan struct{}
	code     atomic.Int32 // close code received, if any
}

// dialCounter connects, says hello as nick and joins lobby. A slow
// counter has a 4 KiB receive buffer and will not read once joined.
func dialCounter(t *testing.T, url, nick string, slow bool) *counter {
	t.Helper()
	d := ws.Dialer{}
	if slow {
		d.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
				if err != nil {
					return err
				}
				return serr
			}}
			return nd.DialContext(ctx, network, addr)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, br, _, err := d.Dial(ctx, wstest.WSURL(url))
	if err != nil {
		t.Fatalf("dial %s: %v", nick, err)
	}
	c := &counter{conn: conn, closed: make(chan struct{})}
	var r *bufio.Reader = br
	if r == nil {
		r = bufio.NewReader(conn)
	}
	rw := struct {
		io.Reader
		io.Writer
	}{r, conn}
	for i, cmd := range []string{`{"type":"hello","nickname":"` + nick + `","ref":"h"}`, `{"type":"join","room":"lobby","ref":"j"}`} {
		if err := wsutil.WriteClientText(conn, []byte(cmd)); err != nil {
			t.Fatal(err)
		}
		for { // until the reply
			p, err := wsutil.ReadServerText(rw)
			if err != nil {
				t.Fatalf("%s: %v", nick, err)
			}
			if bytes.Contains(p, []byte(`"ref":"`+[]string{"h", "j"}[i]+`"`)) {
				break
			}
		}
	}
	t.Cleanup(func() { conn.Close() })
	if slow {
		return c // never reads again
	}
	go func() {
		defer close(c.closed)
		for {
			h, err := ws.ReadHeader(rw)
			if err != nil {
				return
			}
			p := make([]byte, h.Length)
			if _, err := io.ReadFull(rw, p); err != nil {
				return
			}
			if h.OpCode == ws.OpClose {
				if len(p) >= 2 {
					c.code.Store(int32(p[0])<<8 | int32(p[1]))
				}
				return
			}
			if h.OpCode == ws.OpText && bytes.Contains(p, []byte(`"type":"message"`)) {
				c.messages.Add(1)
			}
		}
	}()
	return c
}

// rssKiB reads a process's resident set size.
func rssKiB(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestOneSlowConsumerOf500IsCutOffAndTheOthersGetEverything: one of 500
// clients stops reading; it is disconnected at its outbox limit with close
// 4000, the other 499 receive every message, and the server's memory stays
// bounded.
func TestOneSlowConsumerOf500IsCutOffAndTheOthersGetEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("500 connections")
	}
	// The real binary, built without the race detector, whose own memory
	// would drown what is measured here.
	url, cmd := startBinary(t, t.TempDir()+"/parley.db", "--rate", "100000", "--burst", "100000",
		"--outbox-messages", "256", "--outbox-bytes", "1048576", "--send-buffer-bytes", "65536")
	const n = 500
	var readers []*counter
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n-1; i += 50 {
		for j := i; j < min(n-1, i+50); j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := dialCounter(t, url, fmt.Sprintf("r%03d", j), false)
				mu.Lock()
				readers = append(readers, c)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	sender := wstest.Dial(t, wstest.WSURL(url), nil)
	sender.Hello("sender")
	sender.Join("lobby")
	text := strings.Repeat("z", 2000) // ~4.5 KB frames (text and HTML)
	round := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			sender.MustOK(map[string]any{"type": "send", "room": "lobby", "text": fmt.Sprint(i, text)})
		}
		deadline := time.Now().Add(60 * time.Second)
		for _, r := range readers {
			for r.messages.Load() < int64(to) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := r.messages.Load(); got != int64(to) {
				t.Fatalf("a reader got %d of %d messages", got, to)
			}
		}
	}
	// Everyone reading, twice: the memory this load needs, steady.
	round(0, 300)
	round(300, 600)
	base := rssKiB(t, cmd.Process.Pid)
	// One client stops reading (make soak: 10% of them): it is cut off,
	// the others get everything, and the next round costs what it cost
	// before.
	stuck := dialCounter(t, url, "stuck", true)
	if soak() {
		for i := 1; i < n/10; i++ {
			dialCounter(t, url, fmt.Sprintf("stuck%02d", i), true)
		}
	}
	round(600, 900)
	round(900, 1200)
	after := rssKiB(t, cmd.Process.Pid)
	p := sender.MustOK(map[string]any{"type": "presence", "room": "lobby"})
	if strings.Contains(fmt.Sprint(p["members"]), "stuck") {
		t.Error("the stuck client is still a member: it was not cut off")
	}
	_ = stuck.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	code := readCloseCode(stuck.conn)
	t.Logf("server RSS %d KiB with %d readers, %d KiB with stuck ones; the first stuck one saw close code %d", base, n-1, after, code)
	stuckN := int64(1)
	if soak() {
		stuckN = n / 10
	}
	// At most the stuck clients' outboxes (1 MiB each) beyond 32 MiB of noise.
	if limit := int64(32<<10) + stuckN*1024; after-base > limit {
		t.Errorf("server RSS grew by %d KiB when %d clients of %d stopped reading; want < %d KiB", after-base, stuckN, n, limit)
	}
}

// readCloseCode reads frames until a close frame and returns its code, or
// -1 if the connection ended without one (reset).
func readCloseCode(conn net.Conn) int {
	r := bufio.NewReaderSize(conn, 64<<10)
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return -1
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			return -1
		}
		if h.OpCode == ws.OpClose && len(p) >= 2 {
			return int(p[0])<<8 | int(p[1])
		}
	}
}

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// startBinary builds cmd/parley (once per test run, into a temporary
// directory) and runs it like startProcess.
func startBinary(t *testing.T, db string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "parley-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtPath = filepath.Join(dir, "parley")
		out, err := exec.Command("go", "build", "-o", builtPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return startCommand(t, builtPath, nil, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...))
}

// stormClient is a light native client for the reconnect storm: replies
// are decoded, message events only scanned for their seq.
type stormClient struct {
	nick, token string
	conn        net.Conn
	r           *bufio.Reader
	mu          sync.Mutex
	seqs        []int64 // seqs of room "storm" received, in order
	done        chan struct{}
}

var seqField = []byte(`"seq":`)

func frameSeq(p []byte) int64 {
	i := bytes.Index(p, seqField)
	if i < 0 {
		return -1
	}
	n := int64(0)
	for _, c := range p[i+len(seqField):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// dial connects and runs cmds one by one, each answered before the next;
// message events read on the way are recorded.
func (c *stormClient) dial(url string, cmds ...map[string]any) ([]wstest.Frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, wstest.WSURL(url))
	if err != nil {
		return nil, err
	}
	c.conn = conn
	c.r = br
	if c.r == nil {
		c.r = bufio.NewReader(conn)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var replies []wstest.Frame
	for i, cmd := range cmds {
		ref := strconv.Itoa(i)
		cmd["ref"] = ref
		b, _ := json.Marshal(cmd)
		if err := wsutil.WriteClientText(conn, b); err != nil {
			return nil, err
		}
		tries := 0
		for {
			p, err := wsutil.ReadServerText(struct {
				io.Reader
				io.Writer
			}{c.r, conn})
			if err != nil {
				return nil, err
			}
			if bytes.Contains(p, []byte(`"ref":"`+ref+`"`)) {
				var f wstest.Frame
				if err := json.Unmarshal(p, &f); err != nil {
					return nil, err
				}
				if code := f.Str("code"); f.Type() == "error" && (code == "unavailable" || code == "rate_limited") && tries < 5 {
					// Busy: retry after the hint, as clients do.
					tries++
					time.Sleep(time.Duration(f.Num("retry_after_ms")) * time.Millisecond)
					if err := wsutil.WriteClientText(conn, b); err != nil {
						return nil, err
					}
					continue
				}
				if f.Type() == "error" {
					return nil, fmt.Errorf("%s: %v", cmd["type"], f)
				}
				if f.Type() == "history" { // a resume page: before any live message
					msgs, _ := f["messages"].([]any)
					for _, m := range msgs {
						c.record(wstest.Frame(m.(map[string]any)).Num("seq"))
					}
				}
				replies = append(replies, f)
				break
			}
			if bytes.Contains(p, []byte(`"type":"message"`)) && bytes.Contains(p, []byte(`"room":"storm"`)) {
				c.record(frameSeq(p))
			}
		}
	}
	_ = conn.SetDeadline(time.Time{})
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		rw := struct {
			io.Reader
			io.Writer
		}{c.r, conn}
		for {
			p, err := wsutil.ReadServerText(rw)
			if err != nil {
				return
			}
			if bytes.Contains(p, []byte(`"type":"message"`)) && bytes.Contains(p, []byte(`"room":"storm"`)) {
				c.record(frameSeq(p))
			}
		}
	}()
	return replies, nil
}

func (c *stormClient) record(seq int64) {
	c.mu.Lock()
	c.seqs = append(c.seqs, seq)
	c.mu.Unlock()
}

func (c *stormClient) last() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seqs) == 0 {
		return 0
	}
	return c.seqs[len(c.seqs)-1]
}

// TestReconnectStorm: 2,000 connections drop at once and reconnect at
// once while messages keep coming; every client resumes with exactly the
// messages it missed, and the server keeps answering meanwhile.
func TestReconnectStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 connections")
	}
	n := 2000
	if soak() {
		n = 10000
	}
	url, _ := startBinary(t, t.TempDir()+"/parley.db", "--rate", "100000", "--burst", "100000")
	clients := make([]*stormClient, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 100)
	for i := range clients {
		clients[i] = &stormClient{nick: fmt.Sprintf("s%04d", i)}
		wg.Add(1)
		go func(c *stormClient) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := c.dial(url, map[string]any{"type": "hello", "nickname": c.nick}, map[string]any{"type": "join", "room": "storm"})
			if err != nil {
				errs <- err
				return
			}
			c.token = r[0].Str("token")
		}(clients[i])
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("connect: %v", err)
	default:
	}
	sender := wstest.Dial(t, wstest.WSURL(url), nil)
	sender.Hello("sender")
	sender.Join("storm")
	send := func(from, to int) {
		for i := from; i < to; i++ {
			sender.MustOK(map[string]any{"type": "send", "room": "storm", "text": fmt.Sprint("storm ", i)})
		}
	}
	send(0, 20)
	waitAll := func(want int64) {
		deadline := time.Now().Add(60 * time.Second)
		for _, c := range clients {
			for c.last() < want && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	waitAll(20)

	// A probe measures how the server answers during the storm.
	probe := wstest.Dial(t, wstest.WSURL(url), nil)
	probe.Hello("probe")
	var worst atomic.Int64
	stop := make(chan struct{})
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			begin := time.Now()
			ref := probe.NextRef()
			if probe.SendRaw([]byte(`{"type":"rooms","ref":"`+ref+`"}`)) != nil {
				return
			}
			if _, ok := probe.Wait(30*time.Second, func(f wstest.Frame) bool { return f.Str("ref") == ref }); !ok {
				worst.Store(int64(time.Hour))
				return
			}
			if d := int64(time.Since(begin)); d > worst.Load() {
				worst.Store(d)
			}
		}
	}()

	// Every connection drops at once; messages keep coming; all come back
	// at once and catch up.
	for _, c := range clients {
		c.conn.Close()
	}
	for _, c := range clients {
		<-c.done
	}
	send(20, 40)
	begin := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			after := c.last()
			_, err := c.dial(url,
				map[string]any{"type": "hello", "token": c.token},
				map[string]any{"type": "resume", "room": "storm", "after": after, "limit": 200})
			if err != nil {
				errs <- fmt.Errorf("%s: %w", c.nick, err)
				return
			}
		}()
	}
	send(40, 60) // live messages during the storm
	wg.Wait()
	t.Logf("%d reconnects and catch-ups in %v", n, time.Since(begin).Round(time.Millisecond))
	select {
	case err := <-errs:
		t.Fatalf("reconnect: %v", err)
	default:
	}
	waitAll(60)
	close(stop)
	<-probed
	t.Logf("slowest answer to a probe during the storm: %v", time.Duration(worst.Load()).Round(time.Millisecond))
	if worst.Load() > int64(5*time.Second) {
		t.Errorf("the server took %v to answer during the storm", time.Duration(worst.Load()))
	}
	for _, c := range clients {
		c.mu.Lock()
		seqs := c.seqs
		c.mu.Unlock()
		for i, seq := range seqs {
			if seq != int64(i+1) {
				t.Fatalf("%s received seqs %v; want 1…60, each once, in order", c.nick, seqs)
			}
		}
		if len(seqs) != 60 {
			t.Fatalf("%s received %d messages; want 60", c.nick, len(seqs))
		}
	}
}

// soak reports whether the longer versions run (make soak).
func soak() bool { return os.Getenv("PARLEY_SOAK") != "" }
