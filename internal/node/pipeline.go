package node

import (
	"context"
	"sync"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/gopool"
)

// appendQueuer is a Store that can take a message into its write queue at
// once and report the outcome later: messages queued one after another are
// stored in that order (a room's seqs follow it). With one, a connection's
// sends are pipelined: the next is validated and queued while the one
// before waits for its commit, so a busy connection's messages share
// commits instead of each waiting for one of its own. (sqlite.Store is one.)
type appendQueuer interface {
	QueueAppend(ctx context.Context, m parley.Message) (wait func() (parley.Message, bool, error))
}

// answerers run the sessions' pipelines: publishing and acking goes deep,
// and a goroutine started per message grew its stack every time.
var answerers = gopool.New(20 * time.Millisecond)

// pendingSend is a queued send whose ack waits for the store.
type pendingSend struct {
	op     parley.Op
	ref    string
	wait   func() (parley.Message, bool, error)
	done   chan struct{} // closed once answered
	queued time.Time     // when the append was queued (Metrics.Appended)
}

// pipeline is a session's queued sends, answered in order by one goroutine
// that runs while there are any.
type pipeline struct {
	mu      sync.Mutex
	queue   []*pendingSend // oldest first
	running bool           // the answering goroutine runs

	last *pendingSend // the newest queued; owned by the Handle goroutine
}

// queueSend queues m's append and hands its ack to the session's pipeline.
// The caller returns without a reply; the pipeline sends it.
func (n *Node) queueSend(ctx context.Context, q appendQueuer, s *Session, c *parley.Command, m parley.Message) {
	p := &s.pipe
	p.mu.Lock()
	var oldest *pendingSend
	if len(p.queue) >= n.cfg.MaxPipeline { // the next waits for the oldest; the connection is not read meanwhile
		oldest = p.queue[0]
	}
	p.mu.Unlock()
	if oldest != nil {
		<-oldest.done
	}
	now := time.Now()
	ps := &pendingSend{op: c.Op, ref: c.Ref, done: make(chan struct{}), queued: now}
	ps.wait = q.QueueAppend(n.sendDeadlines.get(now), m)
	n.inflight.Add(1) // the Handle that called us holds one already
	p.last = ps
	p.mu.Lock()
	p.queue = append(p.queue, ps)
	start := !p.running
	p.running = true
	p.mu.Unlock()
	if start {
		actx := context.WithoutCancel(ctx)
		answerers.Go(func() { n.answerSends(actx, s) })
	}
}

// answerSends answers s's queued sends in order — publish, then ack — and
// ends when none are left.
func (n *Node) answerSends(ctx context.Context, s *Session) {
	p := &s.pipe
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.queue, p.running = nil, false
			p.mu.Unlock()
			return
		}
		ps := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()

		stored, dup, err := ps.wait()
		n.cfg.Metrics.Appended(time.Since(ps.queued), err == nil && !dup)
		var reply *parley.Reply
		if err == nil {
			n.published(ctx, stored, dup)
			reply = &parley.Reply{Message: &stored, Duplicate: dup}
		}
		n.answer(s, ps.op, ps.ref, reply, err)
		close(ps.done)
		n.inflight.Done()
	}
}

// awaitSends returns once every send s queued has been answered: commands
// other than sends see the effects of the sends before them, and their
// replies come after those sends' acks. Only the Handle goroutine (or
// Disconnect, after the last Handle) may call it.
func (s *Session) awaitSends() {
	if last := s.pipe.last; last != nil {
		<-last.done
		s.pipe.last = nil
	}
}
