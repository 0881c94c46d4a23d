package natsbroker_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/brokertest"
	"github.com/parley-chat/parley/internal/natsbroker"
	"github.com/parley-chat/parley/internal/testsrv"
)

var channels atomic.Int64

// newBrokers returns a brokertest.NewBrokers on srv: each call a fresh
// channel, so the cases do not see each other's events.
func newBrokers(srv *testsrv.Server) brokertest.NewBrokers {
	return func(tb testing.TB, n int) []parley.Broker {
		tb.Helper()
		channel := fmt.Sprintf("parley.test.%d", channels.Add(1))
		out := make([]parley.Broker, n)
		for i := range out {
			out[i] = open(tb, srv, natsbroker.Options{Channel: channel})
		}
		return out
	}
}

func open(tb testing.TB, srv *testsrv.Server, opts natsbroker.Options) *natsbroker.Broker {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = brokertest.Logger(tb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := natsbroker.New(ctx, srv.URL, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	return b
}

func TestSuite(t *testing.T) {
	brokertest.Run(t, newBrokers(testsrv.NATS(t)))
}

func BenchmarkPublishReceive(b *testing.B) {
	brokertest.Benchmark(b, newBrokers(testsrv.NATS(b)))
}

// TestNewFailsWhenTheServerIsUnreachable: a node refuses to start, soon.
func TestNewFailsWhenTheServerIsUnreachable(t *testing.T) {
	url := fmt.Sprintf("nats://127.0.0.1:%d", testsrv.FreePort(t))
	start := time.Now()
	_, err := natsbroker.New(context.Background(), url, natsbroker.Options{Logger: brokertest.Logger(t)})
	if err == nil {
		t.Fatal("New on a port where nothing listens: nil error")
	}
	if !strings.Contains(err.Error(), url) {
		t.Errorf("error %q does not name the server", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("New took %v to fail", d)
	}
}

// TestNewHonoursItsContext: a server that accepts and never answers makes
// New wait for its ctx, not longer.
func TestNewHonoursItsContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = natsbroker.New(ctx, "nats://"+ln.Addr().String(), natsbroker.Options{Logger: brokertest.Logger(t)})
	if err == nil {
		t.Fatal("New on a silent server: nil error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("New took %v with a 300 ms context", d)
	}
}

func TestBadChannelIsRefused(t *testing.T) {
	srv := testsrv.NATS(t)
	for _, ch := range []string{"a b", "parley.*", "parley.>", ".x", "x.", "a..b"} {
		if b, err := natsbroker.New(context.Background(), srv.URL, natsbroker.Options{Channel: ch}); err == nil {
			b.Close()
			t.Errorf("channel %q accepted", ch)
		}
	}
}

// TestServerRestart: after the server comes back (stopped, killed, or
// restarted at once), three times over, the brokers reconnect by
// themselves, re-subscribe, call OnReconnect, and what is published
// afterwards arrives; while the server is down Publish fails at once with
// EUnavailable.
func TestServerRestart(t *testing.T) {
	for _, how := range []string{"Stop", "Kill", "Restart"} {
		t.Run(how, func(t *testing.T) {
			srv := testsrv.NATS(t)
			channel := fmt.Sprintf("parley.test.%d", channels.Add(1))
			reconnected := []chan struct{}{make(chan struct{}, 10), make(chan struct{}, 10)}
			var brokers []parley.Broker
			var cs []*brokertest.Collector
			for i := range 2 {
				b := open(t, srv, natsbroker.Options{Channel: channel, OnReconnect: func() { reconnected[i] <- struct{}{} }})
				c := brokertest.NewCollector(fmt.Sprintf("subscription on broker %d", i))
				b.Subscribe(c.Fn)
				brokers, cs = append(brokers, b), append(cs, c)
			}
			brokertest.WaitReady(t, brokers, cs...)
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
					case <-time.After(brokertest.WaitTimeout):
						t.Fatalf("round %d: broker %d: no OnReconnect within %v of the server's return", round, i, brokertest.WaitTimeout)
					}
				}
				for i, b := range brokers {
					if err := b.Publish(context.Background(), brokertest.ChatEvent(room, fmt.Sprint("b", i), 1)); err != nil {
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

// waitUnavailable waits until Publish on b fails (the broker noticed the
// server is gone), checking that it fails at once and with EUnavailable.
func waitUnavailable(t *testing.T, b parley.Broker) {
	t.Helper()
	deadline := time.Now().Add(brokertest.WaitTimeout)
	for {
		start := time.Now()
		err := b.Publish(context.Background(), brokertest.ChatEvent("outage", "x", 1))
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
			t.Fatalf("Publish still succeeds %v after the server went down", brokertest.WaitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseEndsEveryGoroutine: the brokers' goroutines and nats.go's end.
func TestCloseEndsEveryGoroutine(t *testing.T) {
	srv := testsrv.NATS(t)
	before := runtime.NumGoroutine()
	var brokers []*natsbroker.Broker
	var pbs []parley.Broker
	var cs []*brokertest.Collector
	for i := range 3 {
		b, err := natsbroker.New(context.Background(), srv.URL, natsbroker.Options{Channel: "parley.close", OnReconnect: func() {}})
		if err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			c := brokertest.NewCollector(fmt.Sprintf("subscription %d on broker %d", j, i))
			b.Subscribe(c.Fn)
			cs = append(cs, c)
		}
		brokers, pbs = append(brokers, b), append(pbs, b)
	}
	brokertest.WaitReady(t, pbs, cs...)
	for i, b := range brokers {
		if err := b.Publish(context.Background(), brokertest.ChatEvent("close", fmt.Sprint("b", i), 1)); err != nil {
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
	brokertest.WaitGoroutines(t, before)
	if err := brokers[0].Publish(context.Background(), brokertest.ChatEvent("close", "x", 2)); parley.ErrorCode(err) != parley.EUnavailable {
		t.Errorf("Publish after Close = %v; want %s", err, parley.EUnavailable)
	}
	brokers[0].Subscribe(func(*parley.Event) { t.Error("a subscription after Close got an event") })()
}

// TestCloseSendsWhatIsQueued: events queued just before Close still go
// out.
func TestCloseSendsWhatIsQueued(t *testing.T) {
	srv := testsrv.NATS(t)
	opts := natsbroker.Options{Channel: fmt.Sprintf("parley.test.%d", channels.Add(1))}
	recv := open(t, srv, opts)
	c := brokertest.NewCollector("receiver")
	recv.Subscribe(c.Fn)
	send := open(t, srv, opts)
	brokertest.WaitReady(t, []parley.Broker{recv, send}, c)
	const n = 500
	for k := range n {
		if err := send.Publish(context.Background(), brokertest.ChatEvent("drain", "s", k)); err != nil {
			t.Fatal(err)
		}
	}
	send.Close()
	c.WaitCount(t, "drain", n)
}
