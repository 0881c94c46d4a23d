package brokertest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// BenchWindow is how many events Benchmark lets be on their way (published
// and not yet received) at once.
const BenchWindow = 1024

// Benchmark publishes b.N small chat messages on one broker instance and
// receives them on another (as two nodes would), at most BenchWindow on
// their way at once; it reports events/s besides ns/op (per event) and,
// with -benchmem, allocations per event on both sides together. A Publish
// refused because the broker's queue is full is retried after 50 µs.
func Benchmark(b *testing.B, newBrokers NewBrokers) {
	brokers := newBrokers(b, 2)
	const room = "bench"
	sem := make(chan struct{}, BenchWindow)
	done := make(chan struct{})
	var got atomic.Int64
	target := int64(b.N)
	probe := NewCollector("probe subscription")
	unsubProbe := brokers[1].Subscribe(probe.Fn)
	WaitReady(b, brokers, probe)
	unsubProbe()
	unsub := brokers[1].Subscribe(func(ev *parley.Event) {
		if ev.Room != room {
			return
		}
		<-sem
		if got.Add(1) == target {
			close(done)
		}
	})
	defer unsub()
	ev := ChatEvent(room, "alice", 1) // immutable, so it may be published again and again
	ev.Message.Text = "hello, how is everyone doing today?"
	ev.Message.HTML = "<p>hello, how is everyone doing today?</p>"
	ctx := context.Background()
	var retries int
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		sem <- struct{}{}
		for {
			err := brokers[0].Publish(ctx, ev)
			if err == nil {
				break
			}
			if parley.ErrorCode(err) != parley.EUnavailable || retries > 1_000_000 {
				b.Fatalf("Publish: %v", err)
			}
			retries++
			time.Sleep(50 * time.Microsecond)
		}
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Fatalf("received %d of %d events within 30 s", got.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(retries)/float64(b.N), "retries/op")
}
