package eventwire_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/brokertest"
	"github.com/parley-chat/parley/internal/eventwire"
)

// sink records what a Queue sends; while blocked is open, send waits.
type sink struct {
	mu      sync.Mutex
	got     []string
	batches []int
	blocked chan struct{}
	fail    bool
}

func (s *sink) send(ctx context.Context, batch [][]byte) error {
	if s.blocked != nil {
		select {
		case <-s.blocked:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, len(batch))
	if s.fail {
		return errors.New("server gone")
	}
	for _, p := range batch {
		s.got = append(s.got, string(p))
	}
	return nil
}

func (s *sink) sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(brokertest.WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", brokertest.WaitTimeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestQueueSendsInOrderInBatches(t *testing.T) {
	s := &sink{blocked: make(chan struct{})}
	q := eventwire.NewQueue(eventwire.QueueConfig{BatchEvents: 10, Logger: brokertest.Logger(t)}, s.send)
	const n = 95
	for i := range n {
		if err := q.Put([]byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	close(s.blocked)
	waitUntil(t, "every event sent", func() bool { return len(s.sent()) == n })
	for i, p := range s.sent() {
		if p != strconv.Itoa(i) {
			t.Fatalf("event %d sent as %s", i, p)
		}
	}
	for _, b := range s.batches {
		if b > 10 {
			t.Errorf("a batch of %d events; at most 10 allowed", b)
		}
	}
	if len(s.batches) > 12 {
		t.Errorf("%d sends for %d events queued while the first waited; want about 10", len(s.batches), n)
	}
	q.Close(context.Background())
}

func TestQueueIsBounded(t *testing.T) {
	s := &sink{blocked: make(chan struct{})}
	q := eventwire.NewQueue(eventwire.QueueConfig{MaxEvents: 5, MaxBytes: 100, Logger: brokertest.Logger(t)}, s.send)
	for i := range 5 {
		if err := q.Put([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := q.Put([]byte{9}); !errors.Is(err, eventwire.ErrQueueFull) {
		t.Errorf("Put on a full queue = %v; want ErrQueueFull", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Put on a full queue took %v", d)
	}
	close(s.blocked)
	waitUntil(t, "the queue to empty", func() bool { return len(s.sent()) == 5 })
	if err := q.Put(make([]byte, 60)); err != nil {
		t.Fatal(err)
	}
	// Bytes: 60 + 60 > 100 (unless the first went out already).
	s2 := &sink{blocked: make(chan struct{})}
	q2 := eventwire.NewQueue(eventwire.QueueConfig{MaxBytes: 100, Logger: brokertest.Logger(t)}, s2.send)
	if err := q2.Put(make([]byte, 60)); err != nil {
		t.Fatal(err)
	}
	if err := q2.Put(make([]byte, 60)); !errors.Is(err, eventwire.ErrQueueFull) {
		t.Errorf("Put over MaxBytes = %v; want ErrQueueFull", err)
	}
	close(s2.blocked)
	q.Close(context.Background())
	q2.Close(context.Background())
}

func TestQueueGoesOnAfterAFailedSend(t *testing.T) {
	s := &sink{fail: true}
	q := eventwire.NewQueue(eventwire.QueueConfig{Logger: brokertest.Logger(t)}, s.send)
	_ = q.Put([]byte("lost"))
	waitUntil(t, "the failed send", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.batches) == 1 })
	s.mu.Lock()
	s.fail = false
	s.mu.Unlock()
	_ = q.Put([]byte("sent"))
	waitUntil(t, "the next send", func() bool { return len(s.sent()) == 1 })
	if got := s.sent(); got[0] != "sent" {
		t.Errorf("sent %v", got)
	}
	q.Close(context.Background())
}

func TestQueueCloseDrainsThenGivesUp(t *testing.T) {
	before := runtime.NumGoroutine()
	s := &sink{}
	q := eventwire.NewQueue(eventwire.QueueConfig{Logger: brokertest.Logger(t)}, s.send)
	for i := range 100 {
		_ = q.Put([]byte(strconv.Itoa(i)))
	}
	q.Close(context.Background())
	if n := len(s.sent()); n != 100 {
		t.Errorf("Close returned with %d of 100 events sent", n)
	}
	if err := q.Put([]byte("late")); !errors.Is(err, eventwire.ErrQueueClosed) {
		t.Errorf("Put after Close = %v; want ErrQueueClosed", err)
	}

	stuck := &sink{blocked: make(chan struct{})} // a send that never ends by itself
	q = eventwire.NewQueue(eventwire.QueueConfig{Logger: brokertest.Logger(t)}, stuck.send)
	_ = q.Put([]byte("x"))
	_ = q.Put([]byte("y"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	q.Close(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a 100 ms context", d)
	}
	brokertest.WaitGoroutines(t, before)
}

func payload(t *testing.T, room string, k int) []byte {
	t.Helper()
	data, err := eventwire.Marshal(brokertest.ChatEvent(room, "x", k))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestHubDeliversInOrderToEverySubscriber(t *testing.T) {
	before := runtime.NumGoroutine()
	h := eventwire.NewHub(brokertest.Logger(t), 0)
	var cs []*brokertest.Collector
	for i := range 3 {
		c := brokertest.NewCollector(fmt.Sprint("subscriber ", i))
		h.Subscribe(c.Fn)
		cs = append(cs, c)
	}
	const n = 1000
	for k := range n {
		h.Deliver(payload(t, "r", k))
	}
	h.Deliver([]byte("not an event")) // logged and dropped
	for _, c := range cs {
		evs := c.WaitCount(t, "r", n)
		for i, ev := range evs {
			if ev.Message.Seq != int64(i) {
				t.Fatalf("%s: event %d is #%d", c.Name, i, ev.Message.Seq)
			}
		}
		if c.Overlapped() {
			t.Errorf("%s: callbacks overlapped", c.Name)
		}
	}
	// The subscribers share one decoded event.
	if cs[0].Events("r")[0] != cs[1].Events("r")[0] {
		t.Error("each subscriber got its own copy: Deliver decodes once per subscriber")
	}
	h.Close()
	brokertest.WaitGoroutines(t, before)
	h.Subscribe(func(*parley.Event) { t.Error("a subscription after Close got an event") })()
	h.Deliver(payload(t, "r", 0))
}

func TestHubSlowSubscriberDelaysNoOtherAndIsBounded(t *testing.T) {
	h := eventwire.NewHub(brokertest.Logger(t), 10)
	release := make(chan struct{})
	var slowGot []int64
	var mu sync.Mutex
	h.Subscribe(func(ev *parley.Event) {
		<-release
		mu.Lock()
		slowGot = append(slowGot, ev.Message.Seq)
		mu.Unlock()
	})
	fast := brokertest.NewCollector("fast")
	h.Subscribe(fast.Fn)
	for k := range 50 {
		h.Deliver(payload(t, "r", k))
		fast.WaitCount(t, "r", k+1) // while the slow one is stuck
	}
	close(release)
	// The slow one held #0 in its callback and #1 to #10 in its queue; the
	// rest was dropped for it.
	waitUntil(t, "the slow subscriber to catch up", func() bool { mu.Lock(); defer mu.Unlock(); return len(slowGot) >= 11 })
	time.Sleep(20 * time.Millisecond)
	h.Close()
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(slowGot) != "[0 1 2 3 4 5 6 7 8 9 10]" {
		t.Errorf("the slow subscriber got %v; want #0 to #10", slowGot)
	}
}

func TestHubUnsubscribe(t *testing.T) {
	h := eventwire.NewHub(brokertest.Logger(t), 0)
	defer h.Close()
	a, b := brokertest.NewCollector("a"), brokertest.NewCollector("b")
	unsubA := h.Subscribe(a.Fn)
	h.Subscribe(b.Fn)
	var self func()
	var selfCalls int
	var mu sync.Mutex
	mu.Lock()
	self = h.Subscribe(func(*parley.Event) {
		mu.Lock()
		defer mu.Unlock()
		selfCalls++
		self() // from its own callback
	})
	mu.Unlock()
	h.Deliver(payload(t, "r", 0))
	a.WaitCount(t, "r", 1)
	unsubA()
	unsubA()
	h.Deliver(payload(t, "r", 1))
	h.Deliver(payload(t, "r", 2))
	b.WaitCount(t, "r", 3)
	if n := len(a.Events("r")); n != 1 {
		t.Errorf("a got %d events; want 1 (unsubscribed after the first)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if selfCalls != 1 {
		t.Errorf("a subscriber that unsubscribed in its callback was called %d times", selfCalls)
	}
}
