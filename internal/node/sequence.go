package node

import (
	"context"
	"sync"
	"time"

	"github.com/parley-chat/parley"
)

// sequencer hands each conversation's messages to delivery in seq order,
// each once, whichever node published them and however they arrived.
//
// The store numbers a room's messages; their events reach a node in any
// order — the senders' goroutines here come back from the store in any
// order, other nodes' events come through the broker — and the broker may
// lose some (across an outage) or carry one twice with a local copy. For
// every conversation with someone here the sequencer knows the next seq to
// deliver: that one goes at once (on the caller's goroutine), a later one
// waits, an earlier one was delivered already. If a gap stays open for
// gapWait, the missing messages are read from the store — so a member here
// never sees seq 8 before seq 2 and never misses 2 to 7, even when the node
// that stored them died before publishing.
//
// A direct conversation is followed from the first of its messages seen
// while one of its people is here, so its start is not known: seq 1 starts
// a new conversation at once, but a later seq may have others just before
// it on their way (the two people wrote at the same moment). It is held
// for startWait with whatever else arrives, and delivery starts from the
// lowest of them.
type sequencer struct {
	mu    sync.RWMutex // read on every message; written at join, leave and forget
	rooms map[string]*roomSeq
}

// roomSeq is one conversation's place in the sequence.
type roomSeq struct {
	mu       sync.Mutex              // held while delivering, so deliveries keep seq order
	next     int64                   // the seq to deliver next; 0 until known
	held     map[int64]*parley.Event // arrived ahead of next (or before it was known)
	starting bool                    // next is not known and a start is scheduled (startWait)
	filling  bool                    // a gap fill is scheduled or running
	gone     bool                    // forgotten: a timer still running must not deliver
	deliver  func(*parley.Event)     // to the members here
	// fill reads at most page messages after after from the store.
	fill func(room string, after int64) ([]parley.Message, error)
	page int
}

// maxGapHeld bounds the messages held behind a gap the store cannot fill
// (it is down): past it, delivery goes on from the oldest held and the
// members find the rest by resuming.
const maxGapHeld = 4096

// gapWait is how long a message waits for the ones before it before they
// are read from the store: long enough for a sender's goroutine or the
// broker to bring them (usually well under a millisecond), short enough
// that a lost one is not noticed.
const gapWait = 200 * time.Millisecond

// startWait is how long the first message seen of a direct conversation
// that is not new waits for others sent at the same moment: the messages
// of one store commit are published within a few milliseconds of each
// other, and the broker adds about one. What arrives later with a lower seq
// is not delivered (the people find it with history or resume); a lower
// seq arriving in time is delivered first.
const startWait = 50 * time.Millisecond

func newSequencer() *sequencer { return &sequencer{rooms: make(map[string]*roomSeq)} }

// known reports whether the sequencer follows room.
func (q *sequencer) known(room string) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.rooms[room] != nil
}

// follow starts following room, whose next message has seq next, unless
// it does already.
func (q *sequencer) follow(room string, next int64, n *Node) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.rooms[room] == nil {
		q.rooms[room] = n.newRoomSeq(room, next)
	}
}

// forget stops following room (nobody here is in it any more).
func (q *sequencer) forget(room string) {
	q.mu.Lock()
	rs := q.rooms[room]
	delete(q.rooms, room)
	q.mu.Unlock()
	if rs != nil {
		rs.mu.Lock()
		rs.gone, rs.held = true, nil
		rs.mu.Unlock()
	}
}

func (q *sequencer) get(room string) *roomSeq {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.rooms[room]
}

// followed returns the rooms followed.
func (q *sequencer) followed() []string {
	q.mu.RLock()
	defer q.mu.RUnlock()
	out := make([]string, 0, len(q.rooms))
	for room := range q.rooms {
		out = append(out, room)
	}
	return out
}

func (n *Node) newRoomSeq(room string, next int64) *roomSeq {
	return &roomSeq{
		next:    next,
		deliver: n.deliverMessage,
		page:    n.cfg.HistoryLimit,
		fill: func(room string, after int64) ([]parley.Message, error) {
			if n.stopping() {
				return nil, errShuttingDown
			}
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			defer cancel()
			msgs, err := n.store.After(ctx, room, after, n.cfg.HistoryLimit)
			if err != nil {
				n.log.Warn("fill a gap in a room's messages from the store", "room", room, "after", after, "err", err)
			}
			return msgs, err
		},
	}
}

// message delivers ev (an EventMessage) in its room's order: at once if
// it is the next, later if some before it are missing, never if it went
// already. Rooms nobody here follows are not delivered.
func (q *sequencer) message(ev *parley.Event) {
	rs := q.get(ev.Room)
	if rs == nil {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.gone {
		return
	}
	seq := ev.Message.Seq
	switch {
	case rs.next == 0 && seq == 1: // a new conversation: it starts here
		rs.deliverLocked(ev, seq)
	case rs.next == 0: // where delivery starts is not known yet
		rs.holdLocked(ev)
		if !rs.starting {
			rs.starting = true
			time.AfterFunc(startWait, func() { rs.start(ev.Room) })
		}
	case seq == rs.next:
		rs.deliverLocked(ev, seq)
	case seq < rs.next: // delivered already (a copy, or a gap fill)
	default:
		rs.holdLocked(ev)
		rs.fillLaterLocked(ev.Room)
	}
}

// deliverLocked delivers ev, the next, and what was held behind it; a gap
// still open behind that is filled later.
func (rs *roomSeq) deliverLocked(ev *parley.Event, seq int64) {
	rs.deliver(ev)
	rs.next = seq + 1
	rs.flushLocked()
	rs.fillLaterLocked(ev.Room)
}

// holdLocked keeps ev until the ones before it are delivered.
func (rs *roomSeq) holdLocked(ev *parley.Event) {
	if rs.held == nil {
		rs.held = make(map[int64]*parley.Event)
	}
	rs.held[ev.Message.Seq] = ev
	if len(rs.held) > maxGapHeld && rs.next != 0 {
		rs.skipLocked()
	}
}

// fillLaterLocked schedules a gap fill if messages are held behind a gap
// and none is scheduled.
func (rs *roomSeq) fillLaterLocked(room string) {
	if len(rs.held) > 0 && !rs.filling {
		rs.filling = true
		time.AfterFunc(gapWait, func() { rs.fillGap(room) })
	}
}

// start begins the delivery of a conversation whose start was not known
// from the lowest message held (unless seq 1 came meanwhile).
func (rs *roomSeq) start(room string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.starting = false
	if rs.gone || rs.next != 0 || len(rs.held) == 0 {
		return
	}
	rs.skipLocked() // from the lowest held
	rs.fillLaterLocked(room)
}

// lowest returns the lowest seq held.
func lowest(held map[int64]*parley.Event) int64 {
	low := int64(0)
	for seq := range held {
		if low == 0 || seq < low {
			low = seq
		}
	}
	return low
}

// flushLocked delivers the held messages that are next now.
func (rs *roomSeq) flushLocked() {
	for len(rs.held) > 0 {
		ev, ok := rs.held[rs.next]
		if !ok {
			return
		}
		delete(rs.held, rs.next)
		rs.deliver(ev)
		rs.next++
	}
}

// skipLocked gives up on the gap: delivery goes on from the oldest held.
func (rs *roomSeq) skipLocked() {
	rs.next = lowest(rs.held)
	rs.flushLocked()
}

// fillGap reads the messages missing before the held ones from the store
// and delivers them, then what was held; while the store fails it tries
// again every gapWait. If the store has nothing past the gap (which a
// store that numbers messages without holes never answers), delivery goes
// on from the oldest held.
func (rs *roomSeq) fillGap(room string) {
	rs.mu.Lock()
	if len(rs.held) == 0 || rs.gone {
		rs.filling = false
		rs.mu.Unlock()
		return
	}
	after := rs.next - 1
	rs.mu.Unlock()

	msgs, err := rs.fill(room, after) // no lock held across the store call

	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.gone {
		rs.filling = false
		return
	}
	rs.applyLocked(room, msgs)
	if len(rs.held) > 0 && len(msgs) == 0 && err == nil {
		rs.skipLocked()
	}
	if len(rs.held) > 0 {
		time.AfterFunc(gapWait, func() { rs.fillGap(room) })
		return
	}
	rs.filling = false
}

// catchUp delivers what the store has after the last delivered message of
// room: after the broker was cut off, or a node died between storing and
// publishing.
func (rs *roomSeq) catchUp(room string) {
	for {
		rs.mu.Lock()
		if rs.next == 0 {
			rs.mu.Unlock()
			return
		}
		after := rs.next - 1
		rs.mu.Unlock()
		msgs, err := rs.fill(room, after)
		rs.mu.Lock()
		if rs.gone {
			rs.mu.Unlock()
			return
		}
		rs.applyLocked(room, msgs)
		rs.mu.Unlock()
		if err != nil || len(msgs) < rs.page {
			return
		}
	}
}

// applyLocked delivers msgs (read from the store, in seq order) from next
// on, preferring a held live copy, then what was held behind them.
func (rs *roomSeq) applyLocked(room string, msgs []parley.Message) {
	for i := range msgs {
		m := &msgs[i]
		if m.Seq != rs.next {
			continue
		}
		ev, ok := rs.held[m.Seq]
		if ok {
			delete(rs.held, m.Seq)
		} else {
			ev = &parley.Event{Kind: parley.EventMessage, Room: room, Message: m}
		}
		rs.deliver(ev)
		rs.next++
	}
	rs.flushLocked()
}
