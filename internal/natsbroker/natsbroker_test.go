package natsbroker_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/parley-chat/parley/internal/brokertest"
	"github.com/parley-chat/parley/internal/natsbroker"
	"github.com/parley-chat/parley/internal/testsrv"
)

var channels atomic.Int64

// network is how brokertest opens this package's brokers on a real
// NATS server.
var network = brokertest.Network{
	Start: func(tb testing.TB) brokertest.Server { return testsrv.NATS(tb) },
	Open: func(ctx context.Context, tb testing.TB, url, channel string, onReconnect func()) (brokertest.Closer, error) {
		return natsbroker.New(ctx, url, natsbroker.Options{Channel: channel, OnReconnect: onReconnect, Logger: brokertest.Logger(tb)})
	},
	URL:     func(srv brokertest.Server) string { return srv.(*testsrv.Server).URL },
	At:      func(hostport string) string { return fmt.Sprintf("nats://%s", hostport) },
	Channel: func() string { return fmt.Sprintf("parley.test.%d", channels.Add(1)) },
}

func TestSuite(t *testing.T) {
	brokertest.Run(t, network.Brokers(testsrv.NATS(t)))
}

func BenchmarkPublishReceive(b *testing.B) {
	brokertest.Benchmark(b, network.Brokers(testsrv.NATS(b)))
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
	brokertest.RunNetwork(t, network)
}
