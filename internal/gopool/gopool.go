// Package gopool runs short tasks on goroutines that outlive them for a
// moment, so that many short tasks share a few goroutines' grown stacks.
//
// A goroutine starts with a small stack and grows it by copying; a task
// that decodes a frame, handles a command and queues its answer grows it
// two or three times. Started once per message, that copying was 6% of
// the server's CPU under load. A worker that finishes a task waits Linger
// for the next one, then ends: an idle process keeps no workers.
package gopool

import "time"

// Pool hands tasks to idle workers, or to a new goroutine when none is
// idle. The zero Pool is not usable; create one with New.
type Pool struct {
	idle   chan func()
	linger time.Duration
}

// New returns a Pool whose workers wait linger for a next task.
func New(linger time.Duration) *Pool {
	return &Pool{idle: make(chan func()), linger: linger}
}

// Go runs f on a worker of p: an idle one if there is one, else a new
// goroutine. It never waits.
func (p *Pool) Go(f func()) {
	select {
	case p.idle <- f:
	default:
		go p.work(f)
	}
}

func (p *Pool) work(f func()) {
	f()
	t := time.NewTimer(p.linger)
	defer t.Stop()
	for {
		select {
		case f := <-p.idle:
			f()
			t.Reset(p.linger)
		case <-t.C:
			return
		}
	}
}
