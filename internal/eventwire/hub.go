package eventwire

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley"
)

// DefaultSubscriberLimit is how many events may wait for one subscriber
// before the Hub drops new ones for it (see NewHub).
const DefaultSubscriberLimit = 65536

// Hub hands the events a broker receives to the subscribers of this
// process. Each subscription has a goroutine and a queue of its own: its
// callbacks run one at a time, in the order Deliver got the events, and a
// slow subscriber delays no other one. Deliver decodes each payload once
// for all subscribers, who share the decoded *parley.Event (read-only).
//
// Deliver must be called from one goroutine at a time (the broker's
// receiving goroutine), which is what keeps the order.
type Hub struct {
	log   *slog.Logger
	limit int

	mu     sync.Mutex // guards subscription changes and closed
	closed bool
	subs   atomic.Pointer[[]*hubSub] // read by Deliver without mu
	wg     sync.WaitGroup            // the subscriptions' goroutines
	bad    RateLog
}

// NewHub returns a Hub that logs to log (slog.Default() if nil) and lets
// at most limit events wait for one subscriber (DefaultSubscriberLimit if
// limit <= 0); further events for that subscriber are dropped and logged,
// since a parley subscriber must not block.
func NewHub(log *slog.Logger, limit int) *Hub {
	if log == nil {
		log = slog.Default()
	}
	if limit <= 0 {
		limit = DefaultSubscriberLimit
	}
	return &Hub{log: log, limit: limit}
}

type hubSub struct {
	fn      func(*parley.Event)
	wake    chan struct{} // capacity 1: events are queued
	stop    chan struct{} // closed by unsubscribe or Close
	stopped atomic.Bool
	once    sync.Once

	mu      sync.Mutex
	queue   []*parley.Event
	spare   []*parley.Event // the previous batch's array, for reuse
	dropped RateLog
}

// Subscribe starts a goroutine that calls fn for every event delivered
// from now on, until unsubscribe is called (from anywhere, fn included;
// calling it again does nothing) or the Hub is closed. unsubscribe does
// not wait for a call of fn in progress, but no call starts after it
// returned. Subscribing to a closed Hub does nothing.
func (h *Hub) Subscribe(fn func(*parley.Event)) (unsubscribe func()) {
	s := &hubSub{fn: fn, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return func() {}
	}
	h.setSubs(append(h.current(), s))
	h.wg.Add(1)
	h.mu.Unlock()
	go s.run(&h.wg)
	return func() {
		h.mu.Lock()
		cur := h.current()
		next := make([]*hubSub, 0, len(cur))
		for _, x := range cur {
			if x != s {
				next = append(next, x)
			}
		}
		h.setSubs(next)
		h.mu.Unlock()
		s.halt()
	}
}

// current returns a copy of the subscriptions; h.mu is held.
func (h *Hub) current() []*hubSub {
	if p := h.subs.Load(); p != nil {
		return append([]*hubSub(nil), *p...)
	}
	return nil
}

func (h *Hub) setSubs(s []*hubSub) { h.subs.Store(&s) }

// Deliver decodes payload and queues the event for every subscriber. A
// payload that does not decode is logged (at most once a second) and
// dropped: it came from a node that is broken or speaks another version.
func (h *Hub) Deliver(payload []byte) {
	ev, err := Unmarshal(payload)
	if err != nil {
		if n, ok := h.bad.Tick(); ok {
			h.log.Error("broker: dropped an event that does not decode", "err", err, "dropped", n, "bytes", len(payload))
		}
		return
	}
	h.DeliverEvent(ev)
}

// DeliverEvent queues ev for every subscriber.
func (h *Hub) DeliverEvent(ev *parley.Event) {
	p := h.subs.Load()
	if p == nil {
		return
	}
	for _, s := range *p {
		s.push(ev, h.limit, h.log)
	}
}

// Close stops every subscription and waits for their goroutines, which
// finish the call of fn they are in (if any) and drop what is queued. It
// must not be called from a subscriber's fn.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	subs := h.current()
	h.setSubs(nil)
	h.mu.Unlock()
	for _, s := range subs {
		s.halt()
	}
	h.wg.Wait()
}

func (s *hubSub) halt() {
	s.once.Do(func() {
		s.stopped.Store(true)
		close(s.stop)
	})
}

func (s *hubSub) push(ev *parley.Event, limit int, log *slog.Logger) {
	s.mu.Lock()
	if len(s.queue) >= limit {
		n, ok := s.dropped.Tick()
		s.mu.Unlock()
		if ok {
			log.Error("broker: a subscriber is too slow; dropping its events", "waiting", limit, "dropped", n)
		}
		return
	}
	s.queue = append(s.queue, ev)
	first := len(s.queue) == 1
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// run calls fn for what is queued, in order, until the subscription stops.
func (s *hubSub) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-s.wake:
		case <-s.stop:
			return
		}
		for {
			s.mu.Lock()
			batch := s.queue
			s.queue, s.spare = s.spare[:0], nil
			s.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for i, ev := range batch {
				if s.stopped.Load() {
					return
				}
				s.fn(ev)
				batch[i] = nil
			}
			if cap(batch) <= 4096 {
				s.mu.Lock()
				s.spare = batch[:0]
				s.mu.Unlock()
			}
		}
	}
}

// RateLog lets a repeated problem be logged at most once a second, with
// the number of occurrences since the last line. The zero value is ready
// to use.
type RateLog struct {
	mu    sync.Mutex
	last  time.Time
	count int
}

// Tick counts one occurrence and reports whether to log it now, and how
// many occurrences that log line stands for.
func (r *RateLog) Tick() (n int, logNow bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count++
	now := time.Now()
	if now.Sub(r.last) < time.Second {
		return 0, false
	}
	n = r.count
	r.last, r.count = now, 0
	return n, true
}
