package natsbroker_test

import (
	"context"
	"fmt"
	"net"
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

// TestNetwork: the server going away and coming back, and Close
// (brokertest.RunNetwork).
func TestNetwork(t *testing.T) {
	brokertest.RunNetwork(t, brokertest.Network{
		Start: func(tb testing.TB) brokertest.Server { return testsrv.NATS(tb) },
		Open: func(ctx context.Context, tb testing.TB, srv brokertest.Server, channel string, onReconnect func()) (brokertest.Closer, error) {
			return natsbroker.New(ctx, srv.(*testsrv.Server).URL, natsbroker.Options{Channel: channel, OnReconnect: onReconnect, Logger: brokertest.Logger(tb)})
		},
		Channel: func() string { return fmt.Sprintf("parley.test.%d", channels.Add(1)) },
	})
}
