// Package brokertest is the behaviour suite every parley.Broker passes: the
// in-memory broker and the networked ones (NATS, Redis). Each
// implementation's tests call Run with a function that returns n broker
// instances connected to the same server, as n nodes would be; the suite
// is the specification of the Broker interface beyond its doc comments:
//
//   - every event published on any instance reaches every subscription on
//     every instance, the publisher's own included, once;
//   - events published one after another (each Publish returned before the
//     next began), even from different goroutines of one instance, reach
//     every subscription in that order; concurrent publishers lose and
//     duplicate nothing and each one's order is kept;
//   - a subscription's callbacks run one at a time (unless the broker
//     says otherwise, see OverlappingCallbacks), and unsubscribe (from
//     anywhere, the callback included) stops delivery;
//   - large events (40 KB of text and of HTML) and every field of an Event
//     get through unchanged;
//   - Publish with a cancelled context fails and delivers nothing.
//
// Failure behaviour (a server that restarts, Close ending every goroutine)
// needs the server in hand and is tested in each broker's package, with
// the helpers here (Logger, WaitGoroutines). Benchmark measures publish →
// receive across two instances.
package brokertest

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// NewBrokers returns n broker instances connected to the same server, as
// on n nodes (for an in-memory broker: the same broker n times), with no
// subscriptions yet, and registers their closing with tb.Cleanup. A
// broker whose server needs it may use a fresh channel per call.
type NewBrokers func(tb testing.TB, n int) []parley.Broker

// Option changes what Run expects of a broker.
type Option func(*config)

type config struct {
	overlapping bool
}

// OverlappingCallbacks says that the broker may run one subscription's
// callbacks concurrently when events are published concurrently — as the
// in-memory broker does, which calls them on the publishing goroutines.
// Without it, Run fails a broker whose callbacks overlap.
func OverlappingCallbacks() Option { return func(c *config) { c.overlapping = true } }

// WaitTimeout bounds every wait of the suite.
const WaitTimeout = 10 * time.Second

// T0 is the suite's clock: whole milliseconds in UTC, as stores keep them.
var T0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// Run runs the suite; each case gets its own brokers from newBrokers.
func Run(t *testing.T, newBrokers NewBrokers, opts ...Option) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	cases := []struct {
		name string
		fn   func(t *testing.T, newBrokers NewBrokers, cfg config)
	}{
		{"FanOutToEveryInstanceIncludingOwn", testFanOut},
		{"SequentialPublishesFromTwoGoroutinesKeepTheirOrder", testOrder},
		{"UnsubscribeStopsDelivery", testUnsubscribe},
		{"ConcurrentPublishersLoseAndDuplicateNothing", testConcurrentPublishers},
		{"LargeEvents", testLargeEvents},
		{"EveryFieldRoundTrips", testEveryField},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBrokers, cfg) })
	}
}

// Collector is a subscription that records what it receives, for tests:
// Fn is the callback to subscribe. It notes when its calls overlap.
type Collector struct {
	Name string // says which subscription it is, in failures

	mu      sync.Mutex
	events  []*parley.Event
	changed chan struct{}
	active  atomic.Int32
	overlap atomic.Bool
}

// NewCollector returns an empty Collector.
func NewCollector(name string) *Collector {
	return &Collector{Name: name, changed: make(chan struct{}, 1)}
}

// Fn records ev.
func (c *Collector) Fn(ev *parley.Event) {
	if c.active.Add(1) > 1 {
		c.overlap.Store(true)
	}
	runtime.Gosched() // widen the window in which an overlapping call shows
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
	c.active.Add(-1)
}

// Overlapped reports whether two calls of Fn ever ran at the same time.
func (c *Collector) Overlapped() bool { return c.overlap.Load() }

// Events returns what was received so far in room, in order ("" for
// everything but probes).
func (c *Collector) Events(room string) []*parley.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*parley.Event
	for _, ev := range c.events {
		if (room == "" && ev.Room != ProbeRoom) || (room != "" && ev.Room == room) {
			out = append(out, ev)
		}
	}
	return out
}

// WaitFor waits (at most WaitTimeout) until cond holds for the events
// received in room, and fails the test saying what it waited for if not.
func (c *Collector) WaitFor(tb testing.TB, room, what string, cond func([]*parley.Event) bool) {
	tb.Helper()
	deadline := time.NewTimer(WaitTimeout)
	defer deadline.Stop()
	for {
		evs := c.Events(room)
		if cond(evs) {
			return
		}
		select {
		case <-c.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline.C:
			tb.Fatalf("%s: waited %v for %s; have %d events in %q: %s", c.Name, WaitTimeout, what, len(evs), room, summary(evs))
		}
	}
}

// WaitCount waits until n events arrived in room.
func (c *Collector) WaitCount(tb testing.TB, room string, n int) []*parley.Event {
	tb.Helper()
	c.WaitFor(tb, room, fmt.Sprintf("%d events", n), func(evs []*parley.Event) bool { return len(evs) >= n })
	return c.Events(room)
}

// ProbeRoom is the room of the probe events with which WaitReady checks
// that subscriptions are live; Collector.Events("") leaves them out.
const ProbeRoom = "brokertest.probe"

// WaitReady publishes probe events from every broker, again every 100 ms,
// until every collector (each subscribed on some broker) has seen a probe
// from every broker: from then on the subscriptions are live everywhere,
// whatever the server needs to propagate them.
func WaitReady(tb testing.TB, brokers []parley.Broker, collectors ...*Collector) {
	tb.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(WaitTimeout)
	for round := 0; ; round++ {
		for i, b := range brokers {
			_ = b.Publish(ctx, &parley.Event{Kind: "brokertest.probe", Room: ProbeRoom, Nickname: fmt.Sprint(i)})
		}
		var missing []string
		for _, c := range collectors {
			seen := map[string]bool{}
			for _, ev := range c.Events(ProbeRoom) {
				seen[ev.Nickname] = true
			}
			for i := range brokers {
				if !seen[fmt.Sprint(i)] {
					missing = append(missing, fmt.Sprintf("%s has no probe from broker %d", c.Name, i))
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("subscriptions not live after %v: %s", WaitTimeout, strings.Join(missing, "; "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ChatEvent returns a small message event: room, sender from, number k
// (in Message.ID and Seq).
func ChatEvent(room, from string, k int) *parley.Event {
	return &parley.Event{Kind: parley.EventMessage, Node: "node-" + from, Room: room, Message: &parley.Message{
		ID: int64(k), Room: room, Seq: int64(k), From: from, Text: fmt.Sprintf("hello %d", k),
		HTML: fmt.Sprintf("<p>hello %d</p>", k), ClientID: fmt.Sprintf("%s-%d", from, k), CreatedAt: T0.Add(time.Duration(k) * time.Millisecond),
	}}
}

func mustPublish(tb testing.TB, b parley.Broker, ev *parley.Event) {
	tb.Helper()
	if err := b.Publish(context.Background(), ev); err != nil {
		tb.Fatalf("Publish(%s %s): %v", ev.Kind, ev.Room, err)
	}
}

func subscribe(tb testing.TB, b parley.Broker, c *Collector) func() {
	unsub := b.Subscribe(c.Fn)
	tb.Cleanup(unsub)
	return unsub
}

// key names an event of the suite: sender and number.
func key(ev *parley.Event) string {
	if ev.Message == nil {
		return string(ev.Kind) + "/" + ev.Room + "/" + ev.Nickname
	}
	return fmt.Sprintf("%s#%d", ev.Message.From, ev.Message.Seq)
}

func summary(evs []*parley.Event) string {
	var parts []string
	for i, ev := range evs {
		if i == 8 && len(evs) > 10 {
			parts = append(parts, fmt.Sprintf("… %d more …", len(evs)-9))
			ev = evs[len(evs)-1]
			parts = append(parts, key(ev))
			break
		}
		parts = append(parts, key(ev))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func checkOverlap(t *testing.T, cfg config, cs ...*Collector) {
	t.Helper()
	if cfg.overlapping {
		return
	}
	for _, c := range cs {
		if c.Overlapped() {
			t.Errorf("%s: two calls of the subscription's callback ran at the same time; they must run one at a time", c.Name)
		}
	}
}

func testFanOut(t *testing.T, newBrokers NewBrokers, cfg config) {
	const room, n, each = "fanout", 3, 3
	brokers := newBrokers(t, n)
	var cs []*Collector
	for i, b := range brokers {
		c := NewCollector(fmt.Sprintf("subscription on broker %d", i))
		subscribe(t, b, c)
		cs = append(cs, c)
	}
	second := NewCollector("second subscription on broker 0")
	subscribe(t, brokers[0], second)
	cs = append(cs, second)
	WaitReady(t, brokers, cs...)

	for k := range each {
		for i, b := range brokers {
			mustPublish(t, b, ChatEvent(room, fmt.Sprint("b", i), k))
		}
	}
	for _, c := range cs {
		evs := c.WaitCount(t, room, n*each)
		seen := map[string]int{}
		last := map[string]int64{}
		for _, ev := range evs {
			k := key(ev)
			seen[k]++
			if seen[k] > 1 {
				t.Errorf("%s: %s arrived %d times", c.Name, k, seen[k])
			}
			if from := ev.Message.From; ev.Message.Seq < last[from] {
				t.Errorf("%s: %s arrived after %s#%d", c.Name, k, from, last[from])
			} else {
				last[from] = ev.Message.Seq
			}
		}
		for i := range brokers {
			for k := range each {
				if want := fmt.Sprintf("b%d#%d", i, k); seen[want] == 0 {
					t.Errorf("%s: never got %s (published on broker %d)", c.Name, want, i)
				}
			}
		}
	}
	checkOverlap(t, cfg, cs...)
}

func testOrder(t *testing.T, newBrokers NewBrokers, cfg config) {
	const room, total = "order", 2000
	brokers := newBrokers(t, 2)
	cs := []*Collector{NewCollector("subscription on broker 0"), NewCollector("subscription on broker 1"), NewCollector("second subscription on broker 1")}
	subscribe(t, brokers[0], cs[0])
	subscribe(t, brokers[1], cs[1])
	subscribe(t, brokers[1], cs[2])
	WaitReady(t, brokers, cs...)

	// Two goroutines take turns: each publishes, then hands the next number
	// to the other, so each Publish returned before the next began.
	turns := [2]chan int{make(chan int, 1), make(chan int, 1)}
	turns[0] <- 0
	var wg sync.WaitGroup
	var failed atomic.Int32
	for g := range 2 {
		wg.Go(func() {
			for range total / 2 {
				k := <-turns[g]
				if err := brokers[0].Publish(context.Background(), ChatEvent(room, "p", k)); err != nil {
					failed.Add(1)
					t.Errorf("Publish #%d: %v", k, err)
				}
				turns[1-g] <- k + 1
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	for _, c := range cs {
		evs := c.WaitCount(t, room, total)
		for i, ev := range evs {
			if ev.Message.Seq != int64(i) {
				t.Fatalf("%s: event %d is p#%d; want p#%d (order lost): %s", c.Name, i, ev.Message.Seq, i, summary(evs[max(0, i-3):min(len(evs), i+4)]))
			}
		}
		if len(evs) != total {
			t.Errorf("%s: %d events; want %d", c.Name, len(evs), total)
		}
	}
	checkOverlap(t, cfg, cs...)
}

func testUnsubscribe(t *testing.T, newBrokers NewBrokers, cfg config) {
	const room = "unsubscribe"
	brokers := newBrokers(t, 2)
	a, b, c := NewCollector("A on broker 0"), NewCollector("B on broker 0"), NewCollector("C on broker 1")
	unsubA := subscribe(t, brokers[0], a)
	subscribe(t, brokers[0], b)
	subscribe(t, brokers[1], c)
	// D unsubscribes itself from its callback, on its first event of room.
	d := NewCollector("D on broker 1 (unsubscribes in its callback)")
	var unsubD func()
	var dMu sync.Mutex
	dMu.Lock()
	unsubD = brokers[1].Subscribe(func(ev *parley.Event) {
		d.Fn(ev)
		if ev.Room == room {
			dMu.Lock()
			unsubD()
			dMu.Unlock()
		}
	})
	dMu.Unlock()
	t.Cleanup(unsubD)
	WaitReady(t, brokers, a, b, c, d)

	mustPublish(t, brokers[1], ChatEvent(room, "x", 1))
	for _, col := range []*Collector{a, b, c, d} {
		col.WaitCount(t, room, 1)
	}
	unsubA()
	unsubA() // a second call does nothing
	mustPublish(t, brokers[0], ChatEvent(room, "x", 2))
	mustPublish(t, brokers[1], ChatEvent(room, "x", 3))
	mustPublish(t, brokers[0], ChatEvent(room, "x", 4))
	for _, col := range []*Collector{b, c} {
		col.WaitFor(t, room, "x#2, x#3 and x#4", func(evs []*parley.Event) bool {
			got := map[string]bool{}
			for _, ev := range evs {
				got[key(ev)] = true
			}
			return got["x#2"] && got["x#3"] && got["x#4"]
		})
	}
	for _, col := range []*Collector{a, d} {
		if evs := col.Events(room); len(evs) != 1 || key(evs[0]) != "x#1" {
			t.Errorf("%s: got %s after unsubscribing; want only x#1", col.Name, summary(evs))
		}
	}
	checkOverlap(t, cfg, a, b, c, d)
}

func testConcurrentPublishers(t *testing.T, newBrokers NewBrokers, cfg config) {
	const room, n, perBroker, each = "concurrent", 3, 4, 250
	brokers := newBrokers(t, n)
	var cs []*Collector
	for i, b := range brokers {
		c := NewCollector(fmt.Sprintf("subscription on broker %d", i))
		subscribe(t, b, c)
		cs = append(cs, c)
	}
	WaitReady(t, brokers, cs...)

	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, b := range brokers {
		for g := range perBroker {
			from := fmt.Sprintf("b%dg%d", i, g)
			wg.Go(func() {
				<-start
				for k := range each {
					if err := b.Publish(context.Background(), ChatEvent(room, from, k)); err != nil {
						t.Errorf("%s: Publish #%d: %v", from, k, err)
						return
					}
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	total := n * perBroker * each
	for _, c := range cs {
		evs := c.WaitCount(t, room, total)
		next := map[string]int64{}
		for _, ev := range evs {
			from, seq := ev.Message.From, ev.Message.Seq
			switch {
			case seq < next[from]:
				t.Errorf("%s: %s again (duplicate or out of order; expected %s#%d)", c.Name, key(ev), from, next[from])
			case seq > next[from]:
				t.Errorf("%s: %s came before %s#%d (lost or out of order)", c.Name, key(ev), from, next[from])
				next[from] = seq + 1
			default:
				next[from] = seq + 1
			}
		}
		if len(evs) != total {
			t.Errorf("%s: %d events; want %d", c.Name, len(evs), total)
		}
	}
	checkOverlap(t, cfg, cs...)
}

func testLargeEvents(t *testing.T, newBrokers NewBrokers, cfg config) {
	const room, count = "large", 8
	brokers := newBrokers(t, 2)
	var cs []*Collector
	for i, b := range brokers {
		c := NewCollector(fmt.Sprintf("subscription on broker %d", i))
		subscribe(t, b, c)
		cs = append(cs, c)
	}
	WaitReady(t, brokers, cs...)
	var sent []*parley.Event
	for k := range count {
		ev := ChatEvent(room, "big", k)
		ev.Message.Text = strings.Repeat(fmt.Sprintf("%d: some *markdown* & <text> é 中 🙂\n", k), 40<<10/40)[:40<<10]
		ev.Message.HTML = strings.Repeat(fmt.Sprintf("<p>%d: some <em>markdown</em> &amp; &lt;text&gt; é 中 🙂</p>", k), 40<<10/60)
		ev.Message.Mentions = []string{"alice", "bob"}
		sent = append(sent, ev)
		mustPublish(t, brokers[k%2], ev)
	}
	for _, c := range cs {
		evs := c.WaitCount(t, room, count)
		got := map[int64]*parley.Event{}
		for _, ev := range evs {
			got[ev.Message.Seq] = ev
		}
		for _, want := range sent {
			if ev := got[want.Message.Seq]; ev == nil || !reflect.DeepEqual(ev, want) {
				t.Errorf("%s: large event #%d did not arrive unchanged", c.Name, want.Message.Seq)
			}
		}
	}
	checkOverlap(t, cfg, cs...)
}

func testEveryField(t *testing.T, newBrokers NewBrokers, cfg config) {
	brokers := newBrokers(t, 2)
	var cs []*Collector
	for i, b := range brokers {
		c := NewCollector(fmt.Sprintf("subscription on broker %d", i))
		subscribe(t, b, c)
		cs = append(cs, c)
	}
	WaitReady(t, brokers, cs...)
	sent := []*parley.Event{FullEvent(t)}
	single := SingleFieldEvents(t)
	for _, ev := range single {
		sent = append(sent, ev)
	}
	for _, ev := range sent {
		mustPublish(t, brokers[0], ev)
	}
	const end = "everyfield.end"
	mustPublish(t, brokers[0], &parley.Event{Kind: "brokertest.end", Room: end})
	for _, c := range cs {
		c.WaitCount(t, end, 1)
		got := c.Events("")
		got = got[:len(got)-1] // the end marker
		if len(got) != len(sent) {
			t.Fatalf("%s: %d events; want %d", c.Name, len(got), len(sent))
		}
		for i := range sent {
			if !reflect.DeepEqual(got[i], sent[i]) {
				t.Errorf("%s: event %d changed on its way:\n got %+v\nwant %+v", c.Name, i, got[i], sent[i])
			}
		}
	}
	checkOverlap(t, cfg, cs...)
}

func testCancelledContext(t *testing.T, newBrokers NewBrokers, cfg config) {
	const room = "cancelled"
	brokers := newBrokers(t, 2)
	c := NewCollector("subscription on broker 1")
	subscribe(t, brokers[1], c)
	WaitReady(t, brokers, c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := brokers[0].Publish(ctx, ChatEvent(room, "x", 1)); err == nil {
		t.Error("Publish with a cancelled context: nil error")
	}
	mustPublish(t, brokers[0], ChatEvent(room, "x", 2))
	evs := c.WaitCount(t, room, 1)
	if key(evs[0]) != "x#2" {
		t.Errorf("got %s; the event published with a cancelled context was delivered", summary(evs))
	}
	checkOverlap(t, cfg, c)
}

// Logger returns a logger that writes to tb's log (so it shows with a
// failing test) until the test ends, and nowhere after.
func Logger(tb testing.TB) *slog.Logger {
	h := &tbHandler{tb: tb, mu: &sync.Mutex{}, done: new(bool)}
	tb.Cleanup(func() {
		h.mu.Lock()
		*h.done = true
		h.mu.Unlock()
	})
	return slog.New(h)
}

type tbHandler struct {
	tb    testing.TB
	mu    *sync.Mutex
	done  *bool
	attrs []slog.Attr
	group string
}

func (h *tbHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *tbHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", r.Time.Format("15:04:05.000"), r.Level, r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s%s=%v", h.group, a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if !*h.done {
		h.tb.Log(b.String())
	}
	return nil
}

func (h *tbHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *tbHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group += name + "."
	return &c
}
