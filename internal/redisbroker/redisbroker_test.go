package redisbroker_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-chat/parley/internal/brokertest"
	"github.com/parley-chat/parley/internal/redisbroker"
	"github.com/parley-chat/parley/internal/testsrv"
)

var channels atomic.Int64

// network is how brokertest opens this package's brokers on a real
// Redis server.
var network = brokertest.Network{
	Start: func(tb testing.TB) brokertest.Server { return testsrv.Redis(tb) },
	Open: func(ctx context.Context, tb testing.TB, url, channel string, onReconnect func()) (brokertest.Closer, error) {
		return redisbroker.New(ctx, url, redisbroker.Options{Channel: channel, OnReconnect: onReconnect, Logger: brokertest.Logger(tb)})
	},
	URL:     func(srv brokertest.Server) string { return srv.(*testsrv.Server).URL },
	At:      func(hostport string) string { return fmt.Sprintf("redis://%s/0", hostport) },
	Channel: func() string { return fmt.Sprintf("parley.test.%d", channels.Add(1)) },
}

func TestSuite(t *testing.T) {
	brokertest.Run(t, network.Brokers(testsrv.Redis(t)))
}

func BenchmarkPublishReceive(b *testing.B) {
	brokertest.Benchmark(b, network.Brokers(testsrv.Redis(b)))
}

func TestBadURLIsRefused(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:6379", "http://127.0.0.1:6379", "redis://u:secret@127.0.0.1:6379/notanumber"} {
		_, err := redisbroker.New(context.Background(), u, redisbroker.Options{Logger: brokertest.Logger(t)})
		if err == nil {
			t.Errorf("New(%q): nil error", u)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("New(%q): the error shows the password: %v", u, err)
		}
	}
}

// TestNetwork: the server going away and coming back, and Close
// (brokertest.RunNetwork).
func TestNetwork(t *testing.T) {
	brokertest.RunNetwork(t, network)
}
