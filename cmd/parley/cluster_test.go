package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testsrv"
	"github.com/parley-chat/parley/internal/wstest"
)

// The cluster tests run real parley processes (this test binary as
// main, see TestMain) on one PostgreSQL and one broker — NATS and Redis
// each — and check that users cannot tell there is more than one node,
// except that losing one loses nothing.

const clusterHeartbeat = 250 * time.Millisecond

// clusterEnv is a store, a broker and the nodes started on them.
type clusterEnv struct {
	t      *testing.T
	kind   string // "nats" or "redis"
	pg     *testsrv.Server
	broker *testsrv.Server
	nodes  []*clusterNode
}

// clusterNode is one parley process.
type clusterNode struct {
	url  string
	cmd  *exec.Cmd
	logs *logBuffer
}

// eachBroker runs fn with a fresh PostgreSQL and a broker of each kind.
func eachBroker(t *testing.T, fn func(t *testing.T, e *clusterEnv)) {
	for _, kind := range []string{"nats", "redis"} {
		t.Run(kind, func(t *testing.T) {
			e := &clusterEnv{t: t, kind: kind, pg: testsrv.Postgres(t)}
			if kind == "nats" {
				e.broker = testsrv.NATS(t)
			} else {
				e.broker = testsrv.Redis(t)
			}
			fn(t, e)
		})
	}
}

// start starts n more nodes.
func (e *clusterEnv) start(n int, args ...string) {
	e.t.Helper()
	for range n {
		e.nodes = append(e.nodes, e.startNode(args...))
	}
}

func (e *clusterEnv) startNode(args ...string) *clusterNode {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0",
		"--store", e.pg.URL, "--broker", e.broker.URL, "--heartbeat", clusterHeartbeat.String(),
		"--rate", "10000", "--burst", "10000", "--admin-token", "s3cret", "--log-level", "debug"}, args...)...)
	cmd.Env = append(os.Environ(), "PARLEY_TEST_AS_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	nd := &clusterNode{cmd: cmd, logs: &logBuffer{}}
	e.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("log of node %s:\n%s", nd.url, nd.logs.tail(60))
		}
	})
	addr := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	lines := bufio.NewScanner(stderr)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		_, _ = nd.logs.Write([]byte(lines.Text()))
		if m := addr.FindStringSubmatch(lines.Text()); m != nil {
			nd.url = "http://" + m[1]
			go func() {
				for lines.Scan() {
					_, _ = nd.logs.Write([]byte(lines.Text()))
				}
			}()
			return nd
		}
	}
	e.t.Fatalf("a node did not start:\n%s", nd.logs.tail(40))
	return nil
}

// client connects a native client to node i and says hello as nick; it
// returns the client and its session token.
func (e *clusterEnv) client(i int, nick string) (*wstest.Client, string) {
	e.t.Helper()
	c := wstest.Dial(e.t, wstest.WSURL(e.nodes[i].url), nil)
	return c, c.Hello(nick).Str("token")
}

// parley bench --direct on two nodes spreads the people over both, so
// most direct messages cross the broker: each reaches both of its people
// once, in a conversation's order (the sequencer of each node).
func TestClusterDirectMessagesUnderLoadLoseNothing(t *testing.T) {
	eachBroker(t, func(t *testing.T, e *clusterEnv) {
		e.start(2)
		settle()
		res := runBench(t, "--url", e.nodes[1].url, "--publish-url", e.nodes[0].url,
			"--subscribers", "0", "--publishers", "6", "--direct", "--rate", "300", "--duration", "1s")
		if res.Sent < 200 || res.Expected != 2*res.Sent || res.Delivered != res.Expected ||
			res.Lost != 0 || res.Duplicated != 0 || res.Disconnected != 0 {
			t.Errorf("result %+v; want every direct message delivered twice (to both people), none lost or doubled", res)
		}
	})
}

// settle lets heartbeats and presence go round.
func settle() { time.Sleep(3 * clusterHeartbeat) }

func TestClusterOneChatAcrossNodes(t *testing.T) {
	eachBroker(t, func(t *testing.T, e *clusterEnv) {
		e.start(3)
		settle()
		alice, _ := e.client(0, "alice")
		alice.Join("lobby")
		bob, bobToken := e.client(2, "bob")
		bob.Join("lobby")
		alice.Expect(func(f wstest.Frame) bool { return f.Type() == "joined" && f.Str("nickname") == "bob" })
		carol := dialSIO(t, e.nodes[1].url, "4", "websocket", "/")
		carol.mustCall("hello", map[string]any{"nickname": "carol"})
		carol.mustCall("join", map[string]any{"room": "lobby"})
		bob.Expect(func(f wstest.Frame) bool { return f.Type() == "joined" && f.Str("nickname") == "carol" })

		// A room with members on nodes 1, 2 and 3, native and Socket.IO.
		alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "hello from node 1"})
		bob.Expect(isMessage("hello from node 1"))
		carol.event("message", msgText("hello from node 1"))
		carol.mustCall("send", map[string]any{"room": "lobby", "text": "hello from socket.io on node 2"})
		alice.Expect(isMessage("hello from socket.io on node 2"))
		bob.Expect(isMessage("hello from socket.io on node 2"))

		// Presence and member lists are the cluster's.
		p := alice.MustOK(map[string]any{"type": "presence", "room": "lobby"})
		if fmt.Sprint(p["members"]) != "[alice bob carol]" {
			t.Errorf("presence on node 1 = %v; want alice, bob and carol", p["members"])
		}
		// Direct messages, mentions and typing cross nodes.
		alice.MustOK(map[string]any{"type": "dm", "to": "bob", "text": "just for bob"})
		bob.Expect(isMessage("just for bob"))
		bob.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "hey @carol"})
		carol.event("mention", func(m map[string]any) bool { return strings.Contains(fmt.Sprint(m), "hey @carol") })
		alice.Send(map[string]any{"type": "typing", "room": "lobby"})
		bob.Expect(func(f wstest.Frame) bool { return f.Type() == "typing" && f.Str("nickname") == "alice" })
		// An announcement made on node 2 reaches everyone.
		if code, _ := post(t, e.nodes[1].url+"/api/announcements", "s3cret", map[string]any{"text": "cluster maintenance"}); code != http.StatusCreated && code != http.StatusOK {
			t.Fatalf("announce: status %d", code)
		}
		alice.Expect(func(f wstest.Frame) bool { return f.Type() == "announcement" })
		bob.Expect(func(f wstest.Frame) bool { return f.Type() == "announcement" })
		carol.event("announcement", anyEvent)

		// bob moves from node 3 to node 1 and resumes: he gets what was
		// said meanwhile, once.
		last := bob.Expect(isMessage("hey @carol")).Msg().Num("seq")
		bob.Close()
		alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "while bob moves"})
		bob2 := wstest.Dial(t, wstest.WSURL(e.nodes[0].url), nil)
		bob2.MustOK(map[string]any{"type": "hello", "token": bobToken})
		page := bob2.MustOK(map[string]any{"type": "resume", "room": "lobby", "after": last})
		if msgs := page["messages"].([]any); len(msgs) != 1 || wstest.Frame(msgs[0].(map[string]any)).Str("text") != "while bob moves" {
			t.Errorf("resume on another node = %v; want the one message said meanwhile", msgs)
		}
	})
}

// clusterSender sends, with client_ids, as fast as acks come; when its
// node dies it moves to another, resumes after the last message it saw
// and sends again what was not acknowledged.
type clusterSender struct {
	crashClient
	node int
}

// request sends a command and waits for its answer, recording the room's
// message events on the way (crashClient.next); false: the connection
// ended.
func (cl *clusterSender) request(cmd string, ref string) (wstest.Frame, bool) {
	if cl.c.SendRaw([]byte(cmd)) != nil {
		return nil, false
	}
	return cl.next(ref, 10*time.Second)
}

// moveTo connects to node i, comes back as the same person, resumes the
// lobby after the last seq seen, page after page, and resends the message
// in flight.
func (cl *clusterSender) moveTo(e *clusterEnv, i int) error {
	c, err := wstest.TryDial(wstest.WSURL(e.nodes[i].url), nil)
	if err != nil {
		return err
	}
	cl.c.Close()
	cl.c, cl.node = c, i
	if f, ok := cl.request(fmt.Sprintf(`{"type":"hello","token":%q,"ref":"h"}`, cl.token), "h"); !ok || f.Str("nickname") != cl.nick {
		return fmt.Errorf("%s: hello on node %d: %v", cl.nick, i+1, f)
	}
	for k := 0; ; k++ {
		after := int64(0)
		if len(cl.seen) > 0 {
			after = cl.seen[len(cl.seen)-1]
		}
		ref := fmt.Sprint("resume", k)
		f, ok := cl.request(fmt.Sprintf(`{"type":"resume","room":"lobby","after":%d,"limit":200,"ref":%q}`, after, ref), ref)
		if !ok || f.Type() != "history" {
			return fmt.Errorf("%s: resume on node %d: %v", cl.nick, i+1, f)
		}
		for _, m := range f["messages"].([]any) {
			cl.seen = append(cl.seen, wstest.Frame(m.(map[string]any)).Num("seq"))
		}
		if f["has_more"] != true || f["reset"] == true {
			break
		}
	}
	if cl.unacked != "" {
		f, ok := cl.request(fmt.Sprintf(`{"type":"send","room":"lobby","text":%q,"client_id":%q,"ref":"resend"}`, cl.unackedText, cl.unacked), "resend")
		if !ok || f.Type() != "ack" {
			return fmt.Errorf("%s: resend on node %d: %v", cl.nick, i+1, f)
		}
		cl.acked[cl.unacked] = f.Msg().Num("id")
		cl.unacked = ""
	}
	return nil
}

// TestClusterKill9OfANodeLosesNothing: six people chat through three
// nodes; one node is killed with SIGKILL mid-run. Its people reconnect to
// the others and resume; in the end everyone has every message of the
// room exactly once, in order, and every acknowledged message is stored
// once.
func TestClusterKill9OfANodeLosesNothing(t *testing.T) {
	eachBroker(t, func(t *testing.T, e *clusterEnv) {
		e.start(3)
		settle()
		var cls []*clusterSender
		for i := range 6 {
			c, token := e.client(i%3, fmt.Sprintf("k%d", i))
			c.Join("lobby")
			cls = append(cls, &clusterSender{crashClient: crashClient{nick: fmt.Sprintf("k%d", i), token: token, c: c, acked: map[string]int64{}}, node: i % 3})
		}
		settle()
		const dead = 1
		var mu sync.Mutex
		total, killed := 0, false
		var wg sync.WaitGroup
		errs := make(chan error, len(cls))
		for i, cl := range cls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					mu.Lock()
					done := total >= 300
					mu.Unlock()
					if done {
						return
					}
					id, ref := fmt.Sprintf("k%d-%d", i, n), fmt.Sprintf("r%d", n)
					cl.unacked, cl.unackedText = id, fmt.Sprintf("%s says %d", cl.nick, n)
					f, ok := cl.request(fmt.Sprintf(`{"type":"send","room":"lobby","text":%q,"client_id":%q,"ref":%q}`, cl.unackedText, id, ref), ref)
					if !ok {
						if cl.node != dead {
							errs <- fmt.Errorf("%s lost its connection to live node %d", cl.nick, cl.node+1)
							return
						}
						if err := cl.moveTo(e, (dead+1+i%2)%3); err != nil {
							errs <- err
							return
						}
						continue
					}
					if f.Type() != "ack" {
						continue // refused: sent again with the next number
					}
					cl.acked[id] = f.Msg().Num("id")
					cl.unacked = ""
					mu.Lock()
					total++
					kill := total == 100 && !killed
					killed = killed || kill
					mu.Unlock()
					if kill {
						_ = e.nodes[dead].cmd.Process.Kill() // SIGKILL: no goodbye, no flush
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		// Everyone catches up on the end of the room and checks 1…n.
		var last int64
		for _, cl := range cls {
			for {
				after := int64(0)
				if len(cl.seen) > 0 {
					after = cl.seen[len(cl.seen)-1]
				}
				f, ok := cl.request(fmt.Sprintf(`{"type":"history","room":"lobby","after":%d,"limit":200,"ref":"end"}`, after), "end")
				if !ok {
					t.Fatalf("%s: history at the end failed", cl.nick)
				}
				msgs := f["messages"].([]any)
				for _, m := range msgs {
					// Live events that came before this page are in
					// seen already.
					if seq := wstest.Frame(m.(map[string]any)).Num("seq"); len(cl.seen) == 0 || seq > cl.seen[len(cl.seen)-1] {
						cl.seen = append(cl.seen, seq)
					}
				}
				if len(msgs) == 0 || f["has_more"] != true {
					break
				}
			}
			for k, seq := range cl.seen {
				if seq != int64(k+1) {
					t.Fatalf("%s saw seq %d at position %d (…%v…): a gap or a duplicate", cl.nick, seq, k+1, cl.seen[max(0, k-3):min(len(cl.seen), k+3)])
				}
			}
			last = max(last, int64(len(cl.seen)))
		}
		ids := map[int64]int{}
		for _, cl := range cls {
			if int64(len(cl.seen)) != last {
				t.Errorf("%s has %d messages; others %d", cl.nick, len(cl.seen), last)
			}
		}
		reader := cls[0]
		for before := int64(0); ; {
			cmd := fmt.Sprintf(`{"type":"history","room":"lobby","limit":200,"before":%d,"ref":"all"}`, before)
			f, ok := reader.request(cmd, "all")
			if !ok {
				t.Fatal("history failed")
			}
			msgs := f["messages"].([]any)
			for _, m := range msgs {
				ids[wstest.Frame(m.(map[string]any)).Num("id")]++
			}
			if len(msgs) == 0 || f["has_more"] != true {
				break
			}
			before = wstest.Frame(msgs[0].(map[string]any)).Num("seq")
		}
		acked := 0
		for _, cl := range cls {
			for cid, id := range cl.acked {
				acked++
				if ids[id] != 1 {
					t.Errorf("acknowledged %s (id %d) is in history %d times", cid, id, ids[id])
				}
			}
		}
		t.Logf("%d acknowledged, %d in the room, node %d killed", acked, last, dead+1)
	})
}

// TestClusterSurvivesABrokerRestart: the broker goes away while people
// chat; sends go on (they are stored), and once the broker is back the
// nodes reconnect by themselves and deliver what was said meanwhile, in
// order, then live messages again.
func TestClusterSurvivesABrokerRestart(t *testing.T) {
	eachBroker(t, func(t *testing.T, e *clusterEnv) {
		e.start(2)
		settle()
		alice, _ := e.client(0, "alice")
		alice.Join("lobby")
		bob, _ := e.client(1, "bob")
		bob.Join("lobby")
		alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "before"})
		bob.Expect(isMessage("before"))

		e.broker.Stop()
		for k := range 5 {
			f := alice.Request(map[string]any{"type": "send", "room": "lobby", "text": fmt.Sprint("during ", k)})
			if f.Type() != "ack" {
				t.Fatalf("send while the broker is down: %v; want an ack (the message is stored)", f)
			}
		}
		e.broker.Start()
		for k := range 5 {
			bob.Expect(isMessage(fmt.Sprint("during ", k)))
		}
		deadline := time.Now().Add(20 * time.Second)
		for { // live again once the nodes are back on the broker
			alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "after"})
			if _, ok := bob.Wait(time.Second, isMessage("after")); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no live message 20 s after the broker came back")
			}
		}
		var seqs []int64
		for _, f := range bob.MustOK(map[string]any{"type": "history", "room": "lobby", "limit": 200})["messages"].([]any) {
			seqs = append(seqs, wstest.Frame(f.(map[string]any)).Num("seq"))
		}
		if !sort.SliceIsSorted(seqs, func(i, j int) bool { return seqs[i] < seqs[j] }) || len(seqs) < 7 {
			t.Errorf("history %v", seqs)
		}
	})
}

// TestClusterPostgresRestart: while PostgreSQL is down, sends fail with
// a retryable error (unavailable, with retry_after_ms) and the node stays
// up; once it is back they succeed again, with the next seq.
func TestClusterPostgresRestart(t *testing.T) {
	eachBroker(t, func(t *testing.T, e *clusterEnv) {
		e.start(2)
		alice, _ := e.client(0, "alice")
		alice.Join("lobby")
		first := alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "one"}).Msg().Num("seq")
		e.pg.Stop()
		start := time.Now()
		f := alice.Request(map[string]any{"type": "send", "room": "lobby", "text": "two"})
		if f.Type() != "error" || f.Str("code") != "unavailable" || f.Num("retry_after_ms") <= 0 {
			t.Errorf("send with PostgreSQL down = %v; want error unavailable with retry_after_ms", f)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("the error took %v", d)
		}
		e.pg.Start()
		deadline := time.Now().Add(30 * time.Second)
		for {
			f := alice.Request(map[string]any{"type": "send", "room": "lobby", "text": "three"})
			if f.Type() == "ack" {
				if seq := f.Msg().Num("seq"); seq != first+1 {
					t.Errorf("first send after the restart has seq %d; want %d", seq, first+1)
				}
				break
			}
			if f.Str("code") != "unavailable" || time.Now().After(deadline) {
				t.Fatalf("send after PostgreSQL came back: %v", f)
			}
			time.Sleep(time.Duration(max(f.Num("retry_after_ms"), 100)) * time.Millisecond)
		}
	})
}

// A node refuses to start, saying why, on a setup that cannot work.
func TestClusterRefusesBadSetups(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"broker without a shared store", []string{"--broker", "nats://127.0.0.1:1"}, "shared store"},
		{"unreachable store", []string{"--store", "postgres://parley@127.0.0.1:1/parley?connect_timeout=2"}, "open store"},
		{"unknown store", []string{"--store", "mysql://x"}, "postgres://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMain(&logBuffer{}, func(string) string { return "" })
			if err := m.ParseFlags(append([]string{"--addr", "127.0.0.1:0", "--db", t.TempDir() + "/p.db"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			err := m.Run(context.Background())
			if err == nil {
				_ = m.Close()
				t.Fatalf("started; want a refusal mentioning %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q; want it to mention %q", err, tc.want)
			}
		})
	}
	pg := testsrv.Postgres(t)
	m := NewMain(&logBuffer{}, func(string) string { return "" })
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--store", pg.URL, "--broker", "nats://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "nats://127.0.0.1:1") {
		if err == nil {
			_ = m.Close()
		}
		t.Errorf("unreachable NATS: err %v; want a refusal naming its URL", err)
	}
}

// TestClusterDeadNodeDropsOutOfPresence: a node killed with SIGKILL says
// nothing; the others drop its people from presence within four
// heartbeats (here 4 × 250 ms), and say so with a left event.
func TestClusterDeadNodeDropsOutOfPresence(t *testing.T) {
	eachBroker(t, func(t *testing.T, e *clusterEnv) {
		e.start(3)
		settle()
		alice, _ := e.client(0, "alice")
		alice.Join("lobby")
		bob, _ := e.client(1, "bob")
		bob.Join("lobby")
		carol, _ := e.client(2, "carol")
		carol.Join("lobby")
		for _, who := range []string{"bob", "carol"} {
			alice.Expect(func(f wstest.Frame) bool { return f.Type() == "joined" && f.Str("nickname") == who })
		}
		if err := e.nodes[1].cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		alice.Expect(func(f wstest.Frame) bool { return f.Type() == "left" && f.Str("nickname") == "bob" })
		if d := time.Since(start); d > 4*clusterHeartbeat+time.Second {
			t.Errorf("bob left %v after his node died; want within 4 heartbeats (%v) and a little", d, 4*clusterHeartbeat)
		}
		p := alice.MustOK(map[string]any{"type": "presence", "room": "lobby"})
		if fmt.Sprint(p["members"]) != "[alice carol]" {
			t.Errorf("presence after node 2 died = %v; want alice and carol", p["members"])
		}
	})
}
