package node

import (
	"context"
	"sync/atomic"
	"time"
)

// sendDeadlines hands the pipelined sends their store deadline. A context
// with a timer of its own for every message was ~3% of the server's CPU at
// 20,000 messages/s (context.WithTimeout, its timer, and their garbage);
// sends queued within the same sendDeadlineGrain share one context instead,
// whose deadline is storeTimeout after the end of that grain: each send
// gets between storeTimeout and storeTimeout + sendDeadlineGrain. The
// shared context is never cancelled early (no send may end another's), and
// it releases its timer when it expires.
type sendDeadlines struct {
	cur atomic.Pointer[sharedDeadline]
}

// sendDeadlineGrain is how long one shared context is handed out.
const sendDeadlineGrain = 100 * time.Millisecond

type sharedDeadline struct {
	ctx   context.Context
	until time.Time // handed out until then
	// cancel is kept, never called: the context ends at its deadline
	// (which releases its timer), and ending it early would end every
	// send that shares it.
	cancel context.CancelFunc
}

// get returns the context for a send queued at now.
func (d *sendDeadlines) get(now time.Time) context.Context {
	if c := d.cur.Load(); c != nil && now.Before(c.until) {
		return c.ctx
	}
	until := now.Add(sendDeadlineGrain)
	c := &sharedDeadline{until: until}
	c.ctx, c.cancel = context.WithDeadline(context.Background(), until.Add(storeTimeout))
	d.cur.Store(c) // a racing get may replace it: both contexts are valid
	return c.ctx
}
