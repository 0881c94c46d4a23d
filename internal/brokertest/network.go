package brokertest

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// Closer is a broker with a connection to close.
type Closer interface {
	parley.Broker
	Close() error
}

// Server is a broker's server process that a test stops, kills and starts
// again (testsrv.Server).
type Server interface {
	Stop()
	Kill()
	Start()
	Restart()
	Freeze()
	Thaw()
}

// Network describes a broker on a server of its own (NATS, Redis) for
// RunNetwork.
type Network struct {
	// Start starts a fresh server for one test.
	Start func(tb testing.TB) Server
	// Open connects a broker to the server at url on channel, logging to
	// tb; onReconnect (may be nil) is its OnReconnect. The caller closes it.
	Open func(ctx context.Context, tb testing.TB, url, channel string, onReconnect func()) (Closer, error)
	// URL is srv's URL; At the URL of a server at host:port.
	URL func(srv Server) string
	At  func(hostport string) string
	// Channel returns a channel no other case uses.
	Channel func() string
}

// open opens a broker that the test closes at its end.
func (nb Network) open(tb testing.TB, srv Server, channel string, onReconnect func()) Closer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := nb.Open(ctx, tb, nb.URL(srv), channel, onReconnect)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	return b
}

// Brokers returns a NewBrokers for Run and Benchmark on srv: each call
// opens n brokers on a channel of their own, so cases do not see each
// other's events.
func (nb Network) Brokers(srv Server) NewBrokers {
	return func(tb testing.TB, n int) []parley.Broker {
		tb.Helper()
		channel := nb.Channel()
		out := make([]parley.Broker, n)
		for i := range out {
			out[i] = nb.open(tb, srv, channel, nil)
		}
		return out
	}
}

// RunNetwork runs the cases that need the broker's server itself: no
// server, or a silent one, at start (a node refuses to start, soon); the
// server going away (stopped, killed, restarted at once) and coming back;
// and Close (every goroutine ends; what was queued still goes out).
func RunNetwork(t *testing.T, nb Network) {
	t.Run("NewFailsWhenTheServerIsUnreachable", func(t *testing.T) { testUnreachable(t, nb) })
	t.Run("NewHonoursItsContext", func(t *testing.T) { testSilentServer(t, nb) })
	t.Run("ServerRestart", func(t *testing.T) { testServerRestart(t, nb) })
	t.Run("FrozenServer", func(t *testing.T) { testFrozenServer(t, nb) })
	t.Run("CloseEndsEveryGoroutine", func(t *testing.T) { testCloseEndsEveryGoroutine(t, nb) })
	t.Run("CloseSendsWhatIsQueued", func(t *testing.T) { testCloseSendsWhatIsQueued(t, nb) })
}

// pair opens two brokers on srv sharing a channel of their own, each
// subscribed by a Collector and with an OnReconnect that signals its
// channel, and waits until both hear each other.
func (nb Network) pair(t *testing.T, srv Server) ([]parley.Broker, []*Collector, []chan struct{}) {
	t.Helper()
	channel := nb.Channel()
	reconnected := []chan struct{}{make(chan struct{}, 10), make(chan struct{}, 10)}
	var brokers []parley.Broker
	var cs []*Collector
	for i := range 2 {
		b := nb.open(t, srv, channel, func() { reconnected[i] <- struct{}{} })
		c := NewCollector(fmt.Sprintf("subscription on broker %d", i))
		b.Subscribe(c.Fn)
		brokers, cs = append(brokers, b), append(cs, c)
	}
	WaitReady(t, brokers, cs...)
	return brokers, cs, reconnected
}

// testServerRestart: after the server comes back (stopped, killed, or
// restarted at once), three times over, the brokers reconnect by
// themselves, re-subscribe, call OnReconnect, and what is published
// afterwards arrives; while the server is down Publish fails at once with
// EUnavailable.
func testServerRestart(t *testing.T, nb Network) {
	for _, how := range []string{"Stop", "Kill", "Restart"} {
		t.Run(how, func(t *testing.T) {
			srv := nb.Start(t)
			brokers, cs, reconnected := nb.pair(t, srv)
			for round := range 3 {
				room := fmt.Sprintf("round%d", round)
				switch how {
				case "Restart": // at once: the brokers may never see Publish fail
					srv.Restart()
				case "Kill":
					srv.Kill()
				default:
					srv.Stop()
				}
				if how != "Restart" {
					waitUnavailable(t, brokers[0])
					time.Sleep(1500 * time.Millisecond) // several reconnect attempts fail
					srv.Start()
				}
				for i := range brokers {
					select {
					case <-reconnected[i]:
					case <-time.After(WaitTimeout):
						t.Fatalf("round %d: broker %d: no OnReconnect within %v of the server's return", round, i, WaitTimeout)
					}
				}
				for i, b := range brokers {
					if err := b.Publish(context.Background(), ChatEvent(room, fmt.Sprint("b", i), 1)); err != nil {
						t.Fatalf("round %d: Publish after OnReconnect: %v", round, err)
					}
				}
				for _, c := range cs {
					c.WaitCount(t, room, 2)
				}
			}
		})
	}
}

// FrozenWithin is how soon a broker must notice a server that keeps its
// connections open and answers nothing (a hung process, a host gone
// without a word): its pings go unanswered.
const FrozenWithin = 10 * time.Second

// testFrozenServer: a server that stops answering without closing its
// connections (SIGSTOP) is noticed by its pings going unanswered —
// Publish fails with EUnavailable within FrozenWithin — and when it
// answers again the brokers are back by themselves: OnReconnect is
// called, and what is published afterwards arrives.
func testFrozenServer(t *testing.T, nb Network) {
	srv := nb.Start(t)
	brokers, cs, reconnected := nb.pair(t, srv)
	srv.Freeze()
	frozen := time.Now()
	for i, b := range brokers {
		waitUnavailableWithin(t, b, FrozenWithin-time.Since(frozen))
		t.Logf("broker %d noticed the frozen server after %v", i, time.Since(frozen).Round(time.Millisecond))
	}
	srv.Thaw()
	for i := range brokers {
		select {
		case <-reconnected[i]:
		case <-time.After(WaitTimeout):
			t.Fatalf("broker %d: no OnReconnect within %v of the server answering again", i, WaitTimeout)
		}
	}
	for i, b := range brokers {
		if err := b.Publish(context.Background(), ChatEvent("thawed", fmt.Sprint("b", i), 1)); err != nil {
			t.Fatalf("Publish after OnReconnect: %v", err)
		}
	}
	for _, c := range cs {
		c.WaitCount(t, "thawed", 2)
	}
}

// waitUnavailable waits until Publish on b fails (the broker noticed the
// server is gone), checking that it fails at once and with EUnavailable.
func waitUnavailable(t *testing.T, b parley.Broker) {
	t.Helper()
	waitUnavailableWithin(t, b, WaitTimeout)
}

// waitUnavailableWithin is waitUnavailable, failing the test after d.
func waitUnavailableWithin(t *testing.T, b parley.Broker, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		start := time.Now()
		err := b.Publish(context.Background(), ChatEvent("outage", "x", 1))
		if d := time.Since(start); d > time.Second {
			t.Errorf("Publish took %v while the server is down", d)
		}
		if err != nil {
			if code := parley.ErrorCode(err); code != parley.EUnavailable {
				t.Fatalf("Publish while the server is down: %v (code %s); want %s", err, code, parley.EUnavailable)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Publish still succeeds %v after the server went down", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testCloseEndsEveryGoroutine: the brokers' goroutines and their client library's end.
func testCloseEndsEveryGoroutine(t *testing.T, nb Network) {
	srv := nb.Start(t)
	before := runtime.NumGoroutine()
	var brokers []Closer
	var pbs []parley.Broker
	var cs []*Collector
	for i := range 3 {
		b, err := nb.Open(context.Background(), t, nb.URL(srv), "parley.close", func() {})
		if err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			c := NewCollector(fmt.Sprintf("subscription %d on broker %d", j, i))
			b.Subscribe(c.Fn)
			cs = append(cs, c)
		}
		brokers, pbs = append(brokers, b), append(pbs, b)
	}
	WaitReady(t, pbs, cs...)
	for i, b := range brokers {
		if err := b.Publish(context.Background(), ChatEvent("close", fmt.Sprint("b", i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cs {
		c.WaitCount(t, "close", 3)
	}
	for _, b := range brokers {
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		_ = b.Close() // twice is harmless
	}
	WaitGoroutines(t, before)
	if err := brokers[0].Publish(context.Background(), ChatEvent("close", "x", 2)); parley.ErrorCode(err) != parley.EUnavailable {
		t.Errorf("Publish after Close = %v; want %s", err, parley.EUnavailable)
	}
	brokers[0].Subscribe(func(*parley.Event) { t.Error("a subscription after Close got an event") })()
}

// testCloseSendsWhatIsQueued: events queued just before Close still go
// out.
func testCloseSendsWhatIsQueued(t *testing.T, nb Network) {
	srv := nb.Start(t)
	channel := nb.Channel()
	recv := nb.open(t, srv, channel, nil)
	c := NewCollector("receiver")
	recv.Subscribe(c.Fn)
	send := nb.open(t, srv, channel, nil)
	WaitReady(t, []parley.Broker{recv, send}, c)
	const n = 500
	for k := range n {
		if err := send.Publish(context.Background(), ChatEvent("drain", "s", k)); err != nil {
			t.Fatal(err)
		}
	}
	send.Close()
	c.WaitCount(t, "drain", n)
}

// testUnreachable: New on a port where nothing listens fails within
// seconds, naming the server.
func testUnreachable(t *testing.T, nb Network) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := nb.At(ln.Addr().String())
	ln.Close() // now nothing listens there
	start := time.Now()
	b, err := nb.Open(context.Background(), t, url, nb.Channel(), nil)
	if err == nil {
		b.Close()
		t.Fatal("New on a port where nothing listens: nil error")
	}
	if !strings.Contains(err.Error(), url) {
		t.Errorf("error %q does not name the server", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("New took %v to fail", d)
	}
}

// testSilentServer: a server that accepts and never answers makes New
// wait for its ctx, not longer.
func testSilentServer(t *testing.T, nb Network) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	b, err := nb.Open(ctx, t, nb.At(ln.Addr().String()), nb.Channel(), nil)
	if err == nil {
		b.Close()
		t.Fatal("New on a silent server: nil error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("New took %v with a 300 ms context", d)
	}
}
