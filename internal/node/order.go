package node

import (
	"sync"
	"time"
)

// ordered hands a room's messages to the broker in sequence order. The
// store numbers messages as it commits them, many in one transaction, and
// the senders' goroutines come back from Append in any order; without this
// gate members could see seq 8 before seq 2, and clients that resume from
// the highest seq seen would skip 2 to 7.
type ordered struct {
	mu    sync.Mutex
	rooms map[string]*roomOrder
}

// roomOrder is one room's gate.
type roomOrder struct {
	next    int64                   // the seq that may go next; 0 while unknown
	waiting map[int64]chan struct{} // seq → closed when it may go
}

// orderWait bounds how long a message waits for the one before it: a
// sender whose write committed but whose goroutine never came back (its
// context ended) must not hold up the room.
const orderWait = time.Second

func newOrdered() *ordered { return &ordered{rooms: make(map[string]*roomOrder)} }

func (o *ordered) roomLocked(room string) *roomOrder {
	r := o.rooms[room]
	if r == nil {
		r = &roomOrder{waiting: make(map[int64]chan struct{})}
		o.rooms[room] = r
	}
	return r
}

// init tells the gate the seq a room's next message will have, unless it
// knows already (join calls it with the room's last seq + 1).
func (o *ordered) init(room string, next int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r := o.roomLocked(room); r.next == 0 {
		r.next = next
	}
}

// publish runs fn (the publish of the message with seq in room) once every
// earlier seq of the room went, or after orderWait.
func (o *ordered) publish(room string, seq int64, fn func()) {
	o.mu.Lock()
	r := o.roomLocked(room)
	if r.next != 0 && seq > r.next {
		ch := make(chan struct{})
		r.waiting[seq] = ch
		o.mu.Unlock()
		t := time.NewTimer(orderWait)
		select {
		case <-ch:
		case <-t.C:
		}
		t.Stop()
		o.mu.Lock()
		delete(r.waiting, seq)
	}
	o.mu.Unlock()

	fn()

	o.mu.Lock()
	defer o.mu.Unlock()
	if seq >= r.next {
		r.next = seq + 1
	}
	if ch, ok := r.waiting[r.next]; ok {
		close(ch)
		delete(r.waiting, r.next)
	}
}
