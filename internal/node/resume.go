package node

import (
	"context"
	"sync"

	"github.com/parley-chat/parley"
)

// maxHeld bounds the live messages held for one room while a client
// catches up; beyond it they go out live (the client's catch-up finds the
// rest by seq).
const maxHeld = 4096

// roomResume is a session's state for one conversation it resumed: while
// holding, live messages wait (in seq order) for the catch-up page to go
// first; floor is the highest seq the client has, below which a late live
// copy is not sent again.
type roomResume struct {
	mu      sync.Mutex
	holding bool
	floor   int64
	frames  [][]byte
	seqs    []int64
}

// resumeOf returns the session's state for room, or nil. It is cheap on
// the fan-out path: one atomic load for sessions that never resumed.
func (s *Session) resumeOf(room string) *roomResume {
	m := s.resumes.Load()
	if m == nil {
		return nil
	}
	return (*m)[room]
}

// resumeFor returns the state for room, creating it (copy-on-write; only
// the Handle goroutine writes).
func (s *Session) resumeFor(room string) *roomResume {
	if r := s.resumeOf(room); r != nil {
		return r
	}
	next := map[string]*roomResume{}
	if m := s.resumes.Load(); m != nil {
		for k, v := range *m {
			next[k] = v
		}
	}
	r := &roomResume{}
	next[room] = r
	s.resumes.Store(&next)
	return r
}

// sendMessage queues a live message event: at once, or held while the
// client catches up on its room, or not at all if the client has it.
func (s *Session) sendMessage(m *parley.Message, frame []byte) {
	r := s.resumeOf(m.Room)
	if r == nil {
		s.send(frame)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock() // Send only queues: no I/O under the lock
	switch {
	case m.Seq <= r.floor:
		// The catch-up page had it.
	case r.holding && len(r.frames) < maxHeld:
		r.frames = append(r.frames, frame)
		r.seqs = append(r.seqs, m.Seq)
	default:
		s.send(frame)
	}
}

// resume joins the room if needed, starts holding its live messages, and
// answers with the page after c.After (or, if c.After is not in the
// room's history, the newest page with Reset). afterResume then releases
// the held messages behind the reply.
func (n *Node) resume(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	// Hold first — before joining and before reading: whatever is
	// published from now on waits for the page.
	var room string
	if c.To == "" && !parley.IsDMKey(c.Room) {
		name, err := roomName(c.Room)
		if err != nil {
			return nil, err
		}
		room = name
		n.hold(s, room)
		if _, err := n.joined(s, room); err != nil {
			if _, err := n.join(ctx, s, &parley.Command{Op: parley.OpJoin, Room: room}); err != nil {
				n.release(s, room, -1)
				return nil, err
			}
		}
	} else {
		key, err := n.readable(ctx, s, c)
		if err != nil {
			return nil, err
		}
		room = key
		n.hold(s, room)
	}

	page := *c
	reply, err := n.history(ctx, s, &page)
	if err != nil {
		n.release(s, room, -1)
		return nil, err
	}
	if c.After > 0 && n.afterIsGone(ctx, room, c.After, reply) {
		latest := *c
		latest.After, latest.Before = 0, 0
		if reply, err = n.history(ctx, s, &latest); err != nil {
			n.release(s, room, -1)
			return nil, err
		}
		reply.Reset = true
	}
	return reply, nil
}

// hold starts holding room's live messages for s.
func (n *Node) hold(s *Session, room string) {
	r := s.resumeFor(room)
	r.mu.Lock()
	r.holding = true
	r.mu.Unlock()
}

// afterIsGone reports whether after is not a point of the room's history:
// older than what is kept (the page does not start right after it) or
// newer than the newest message.
func (n *Node) afterIsGone(ctx context.Context, room string, after int64, page *parley.Reply) bool {
	if len(page.Messages) > 0 {
		return page.Messages[0].Seq > after+1
	}
	sctx, cancel := storeCtx(ctx)
	defer cancel()
	newest, err := n.store.History(sctx, room, 0, 1)
	return err == nil && (len(newest) == 0 || newest[len(newest)-1].Seq < after)
}

// afterResume runs once the resume reply is queued: the held messages
// follow it, unless the client is still paging (has_more without reset).
func (n *Node) afterResume(s *Session, c *parley.Command, reply *parley.Reply) {
	if c.After > 0 && reply.HasMore && !reply.Reset {
		return // the client asks again with after = the last seq of this page
	}
	last := c.After
	if reply.Reset {
		last = 0
	}
	if k := len(reply.Messages); k > 0 {
		last = reply.Messages[k-1].Seq
	}
	n.release(s, reply.Room, last)
}

// release ends holding for room: held messages above last go out, in
// order, and last becomes the floor (-1: just stop holding).
func (n *Node) release(s *Session, room string, last int64) {
	r := s.resumeOf(room)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if last > r.floor {
		r.floor = last
	}
	for i, frame := range r.frames {
		if r.seqs[i] > r.floor {
			s.send(frame)
			r.floor = r.seqs[i]
		}
	}
	clear(r.frames)
	r.frames, r.seqs, r.holding = nil, nil, false
}
