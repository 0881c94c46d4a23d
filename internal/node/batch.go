package node

import (
	"sync"
	"time"

	"github.com/parley-chat/parley"
)

// A room's events are fanned out in batches. Each event goes into the
// room's queue; one goroutine per busy room takes everything queued and
// hands it to every member at once — one queue entry and, on WebSocket,
// one system call per member per batch instead of per event. A room that
// was quiet delivers its next event at once; a busy one at most once per
// window (Config.FanoutWindow per 1,000 members here, in proportion to the
// room's size), so the cost of a big room's fan-out is spread over many
// events. A room of 16 or fewer needs no window and is delivered on the
// publishing goroutine itself (deliverHere).

// Batch is a room's events encoded by one Codec, handed to every member
// that speaks it. Only the goroutine delivering the batch uses it, and
// only during BatchOutbox.SendBatch: a transport keeps what Joined
// returns, never b.
type Batch struct {
	Frames [][]byte // the events' frames, in order
	joined []byte
	built  bool
}

// Joined returns join(b.Frames), computing it once per batch for all the
// connections it goes to (a WebSocket transport frames the events once).
// The result must not be modified.
func (b *Batch) Joined(join func(frames [][]byte) []byte) []byte {
	if !b.built {
		b.joined, b.built = join(b.Frames), true
	}
	return b.joined
}

// BatchOutbox is an Outbox that takes a whole batch at once. Transports
// that do not implement it get the frames one Send at a time.
type BatchOutbox interface {
	Outbox
	// SendBatch queues every frame of b, in order, as Send does one.
	SendBatch(b *Batch) bool
}

// fanQueue is a room's queue of events waiting for fan-out.
type fanQueue struct {
	mu      sync.Mutex
	pending []*parley.Event
	running bool      // a goroutine is delivering the queue (fanOut, or deliverHere)
	last    time.Time // when the last batch went out
	since   time.Time // when the oldest event pending was queued (Metrics.FannedOut)
}

// minWindowMembers: rooms this small deliver each event at once.
const minWindowMembers = 16

// maxWindow caps the window of the biggest rooms.
const maxWindow = time.Second

// window is how long a busy room with members members here waits between
// batches: Config.FanoutWindow per 1,000 members, so that a busy room's
// fan-out costs about the same share of a core whatever its size (each
// batch costs a write per member) — 1,000 members: the window; 100: a
// tenth; 10,000: ten times; never more than maxWindow.
func (n *Node) window(members int) time.Duration {
	if members <= minWindowMembers || n.cfg.FanoutWindow <= 0 {
		return 0
	}
	return min(n.cfg.FanoutWindow*time.Duration(members)/1000, maxWindow)
}

// enqueue adds ev to r's queue and starts its fan-out goroutine if none
// runs.
func (n *Node) enqueue(r *room, ev *parley.Event) {
	if (ev.Kind == parley.EventJoined || ev.Kind == parley.EventLeft) &&
		n.cfg.PresenceLimit >= 0 && len(*r.members.Load()) > n.cfg.PresenceLimit {
		return // a big room: no presence events (see Config.PresenceLimit)
	}
	q := &r.fan
	q.mu.Lock()
	if len(q.pending) == 0 {
		q.since = time.Now()
	}
	q.pending = append(q.pending, ev)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if !start {
		return
	}
	if n.window(len(*r.members.Load())) == 0 && n.deliverHere(r) {
		return
	}
	n.mu.RLock()
	stopped := n.fanStopped
	if !stopped {
		n.fanning.Add(1)
	}
	n.mu.RUnlock()
	if stopped {
		n.fanOut(r) // shutting down: deliver here, at once
		return
	}
	go func() {
		defer n.fanning.Done()
		n.fanOut(r)
	}()
}

// takeLocked moves up to max of the oldest queued events into batch, and
// returns when the oldest of them was queued. (Events left behind keep
// that time: a batch's latency is never under-reported.)
func (q *fanQueue) takeLocked(batch []*parley.Event, max int) ([]*parley.Event, time.Time) {
	k := min(len(q.pending), max)
	batch = append(batch, q.pending[:k]...)
	rest := copy(q.pending, q.pending[k:])
	clear(q.pending[rest:])
	q.pending = q.pending[:rest]
	q.last = time.Now()
	return batch, q.since
}

// deliverHere delivers a small room's queue on the publishing goroutine,
// once — no goroutine to start and schedule for a room of a few people,
// and the members' frames are queued before the sender's ack, so that a
// writer can send both at once. It reports whether the queue is empty
// now; if more came meanwhile, a fan-out goroutine takes it (the caller
// still owns the queue: running stays set).
func (n *Node) deliverHere(r *room) bool {
	q := &r.fan
	q.mu.Lock()
	batch, since := q.takeLocked(nil, n.cfg.MaxBatch)
	q.mu.Unlock()
	n.deliverBatch(r, batch, since)
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		q.running = false
		return true
	}
	return false
}

// fanOut delivers r's queued events in batches until the queue is empty.
func (n *Node) fanOut(r *room) {
	q := &r.fan
	var batch []*parley.Event
	behind := false // the last pass left events queued: no waiting
	for {
		if !behind {
			q.mu.Lock()
			wait := time.Until(q.last.Add(n.window(len(*r.members.Load()))))
			q.mu.Unlock()
			if wait > 0 {
				time.Sleep(wait)
			}
		}
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		var since time.Time
		batch, since = q.takeLocked(batch[:0], n.cfg.MaxBatch)
		behind = len(q.pending) > 0
		q.mu.Unlock()

		n.deliverBatch(r, batch, since)
		clear(batch)
		if cap(batch) > n.cfg.MaxBatch {
			batch = nil
		}
	}
}

// deliverBatch queues a room's events on its members: each event encoded
// once per Codec, the batch joined once per transport, and one SendBatch
// per member — except for members that need the events one by one (a
// resume in progress, a typist not to be shown their own typing, a
// transport without SendBatch). since is when the oldest event was
// queued, for Metrics.FannedOut.
func (n *Node) deliverBatch(r *room, batch []*parley.Event, since time.Time) {
	members := *r.members.Load()
	if len(batch) == 0 {
		return
	}
	sent := 0
	defer func() {
		n.delivered.Add(int64(sent))
		n.cfg.Metrics.FannedOut(time.Since(since), len(batch))
	}()
	caches := make([]frameCache, len(batch))
	var typists map[string]bool
	for _, ev := range batch {
		if ev.Kind == parley.EventTyping {
			if typists == nil {
				typists = make(map[string]bool)
			}
			typists[parley.NickKey(ev.Nickname)] = true
		}
	}
	var batches batchCache
	for _, s := range members {
		bo, ok := s.out.(BatchOutbox)
		if ok && len(batch) > 1 && !typists[s.key] && s.resumeOf(r.name) == nil {
			bo.SendBatch(batches.get(s.codec, batch, caches))
			sent += len(batch)
			continue
		}
		for i, ev := range batch {
			switch {
			case ev.Kind == parley.EventMessage:
				s.sendMessage(ev.Message, caches[i].frame(s.codec, ev))
				sent++
			case ev.Kind == parley.EventTyping && parley.NickKey(ev.Nickname) == s.key:
			default:
				s.send(caches[i].frame(s.codec, ev))
				sent++
			}
		}
	}
}

// batchCache holds one Batch per Codec.
type batchCache struct {
	codecs  []Codec
	batches []*Batch
}

func (bc *batchCache) get(c Codec, events []*parley.Event, caches []frameCache) *Batch {
	for i, have := range bc.codecs {
		if have == c {
			return bc.batches[i]
		}
	}
	b := &Batch{Frames: make([][]byte, len(events))}
	for i, ev := range events {
		b.Frames[i] = caches[i].frame(c, ev)
	}
	bc.codecs = append(bc.codecs, c)
	bc.batches = append(bc.batches, b)
	return b
}
