// Package membroker is the in-memory parley.Broker of a single-process
// server: Publish hands the event to every subscriber of this process,
// synchronously, in the publishing goroutine.
package membroker

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/parley-chat/parley"
)

var _ parley.Broker = (*Broker)(nil)

// Broker is an in-memory broker. The zero value is ready to use.
type Broker struct {
	mu   sync.Mutex // guards subscription changes; Publish reads subs without it
	subs atomic.Pointer[[]*subscription]
}

type subscription struct {
	fn func(*parley.Event)
}

// New returns an empty Broker.
func New() *Broker { return &Broker{} }

// Publish calls every subscriber's function with ev before returning. It
// never fails, except for a cancelled ctx.
func (b *Broker) Publish(ctx context.Context, ev *parley.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if subs := b.subs.Load(); subs != nil {
		for _, s := range *subs {
			s.fn(ev)
		}
	}
	return nil
}

// Subscribe adds fn to the subscribers; unsubscribe removes it.
func (b *Broker) Subscribe(fn func(*parley.Event)) (unsubscribe func()) {
	s := &subscription{fn: fn}
	b.update(func(subs []*subscription) []*subscription { return append(subs, s) })
	var once sync.Once
	return func() {
		once.Do(func() {
			b.update(func(subs []*subscription) []*subscription {
				out := make([]*subscription, 0, len(subs))
				for _, x := range subs {
					if x != s {
						out = append(out, x)
					}
				}
				return out
			})
		})
	}
}

// update replaces the subscriber list copy-on-write, so Publish never locks.
func (b *Broker) update(change func([]*subscription) []*subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var cur []*subscription
	if p := b.subs.Load(); p != nil {
		cur = append(cur, *p...)
	}
	next := change(cur)
	b.subs.Store(&next)
}
