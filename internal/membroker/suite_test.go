package membroker_test

import (
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/brokertest"
	"github.com/parley-chat/parley/internal/membroker"
)

// newBrokers gives the same in-memory broker n times: the nodes of a
// one-process server are that process.
func newBrokers(_ testing.TB, n int) []parley.Broker {
	b := membroker.New()
	out := make([]parley.Broker, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// TestSuite runs the broker behaviour suite. membroker calls subscribers
// on the publishing goroutine, so one subscription's callbacks overlap
// when publishers do.
func TestSuite(t *testing.T) {
	brokertest.Run(t, newBrokers, brokertest.OverlappingCallbacks())
}

// BenchmarkPublishReceive: publish → receive through the in-memory broker.
func BenchmarkPublishReceive(b *testing.B) { brokertest.Benchmark(b, newBrokers) }
