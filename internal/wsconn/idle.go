package wsconn

import (
	"time"

	"github.com/gobwas/ws"
)

// A connection silent for ParkAfter is parked: its waiting goroutine ends
// and the process's poller (poll_linux.go) waits for it instead, so an
// idle connection has no goroutine at all; a timer (onTimer) sends its
// pings and ends it if it stays silent, as the goroutine would. When bytes
// arrive, readable starts a waiting goroutine again: active connections
// wait on goroutines of their own, which Go's scheduler wakes with the
// least delay. rmu guards the read state, the timer, and lastSeen while
// parked.
const (
	rActive = iota // a goroutine waits or reads (wait)
	rParked        // the poller waits; the timer is armed
	rEnded         // finish runs or ran
)

// park hands a silent connection to the poller; false if it cannot be
// (no epoll, no descriptor: it then never tries again).
func (c *Conn) park() bool {
	if c.poll == nil {
		p, rc := pollerFor(c)
		if p == nil {
			c.noPark = true
			return false
		}
		c.rmu.Lock()
		c.poll, c.rstate = p, rParked
		c.timer = time.AfterFunc(c.idleWaitLocked(), c.onTimer)
		c.rmu.Unlock()
		if err := p.add(c, rc); err != nil {
			c.unpark()
			return false
		}
		return true
	}
	c.rmu.Lock()
	c.rstate = rParked
	c.timer.Reset(c.idleWaitLocked())
	c.rmu.Unlock()
	if err := c.poll.rearm(c); err != nil {
		c.unpark()
		return false
	}
	return true
}

// unpark undoes a park that failed: the goroutine goes on waiting.
func (c *Conn) unpark() {
	c.rmu.Lock()
	c.rstate = rActive
	c.timer.Stop()
	c.rmu.Unlock()
	c.noPark = true
}

// readable takes a parked connection whose peer sent something.
func (c *Conn) readable() {
	if c.takeParked(rActive) {
		go c.wait() // the first byte is there: it reads at once
	}
}

// takeParked moves a parked connection to state to and stops its timer;
// false if it was not parked (the timer, the poller and terminate race
// for it).
func (c *Conn) takeParked(to int) bool {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rstate != rParked {
		return false
	}
	c.rstate = to
	c.timer.Stop()
	return true
}

// onTimer runs when a parked connection has been silent for a ping
// period, for the pong wait, or past the close grace.
func (c *Conn) onTimer() {
	c.rmu.Lock()
	if c.rstate != rParked {
		c.rmu.Unlock()
		return
	}
	now := time.Now()
	closing, closeBy := c.closeState()
	switch {
	case closing && !closeBy.IsZero() && !now.Before(closeBy):
		c.rmu.Unlock()
		c.endParked(errClosed) // the peer did not answer our close frame
		return
	case now.Sub(c.lastSeen) >= c.cfg.PongWait:
		c.rmu.Unlock()
		c.endParked(errPingTimeout)
		return
	case !closing && now.Sub(c.lastSeen) >= c.cfg.PingPeriod:
		go c.control0(ws.OpPing, nil)
	}
	c.timer.Reset(c.idleWaitLocked())
	c.rmu.Unlock()
}

// idleWaitLocked is how long a parked connection waits before onTimer:
// until its next ping is due, or less if the pong wait or the close grace
// ends first.
func (c *Conn) idleWaitLocked() time.Duration {
	now := time.Now()
	silent := now.Sub(c.lastSeen)
	d := c.cfg.PingPeriod - silent%c.cfg.PingPeriod
	d = min(d, c.cfg.PongWait-silent)
	if closing, closeBy := c.closeState(); closing && !closeBy.IsZero() {
		d = min(d, closeBy.Sub(now))
	}
	return max(d, time.Millisecond)
}

// closeState reads the outbox's closing state.
func (c *Conn) closeState() (closing bool, closeBy time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing, c.closeBy
}

// wakeForClose makes the read side wait for the peer's close reply at most
// closeGrace from now (our close frame is out).
func (c *Conn) wakeForClose() {
	_ = c.conn.SetReadDeadline(time.Now().Add(closeGrace)) // a waiting goroutine
	c.rmu.Lock()
	if c.rstate == rParked {
		c.timer.Reset(closeGrace)
	}
	c.rmu.Unlock()
}

// endParked ends a parked connection (an active one ends through its
// goroutine, whose read fails once the connection is closed).
func (c *Conn) endParked(err error) {
	if c.takeParked(rEnded) {
		go c.finish(err) // never on the writer's goroutine: finish waits for it
	}
}

// leavePoller marks the read side ended and forgets the connection in the
// poller; finish calls it first.
func (c *Conn) leavePoller() {
	c.rmu.Lock()
	c.rstate = rEnded
	if c.timer != nil {
		c.timer.Stop()
	}
	c.rmu.Unlock()
	if c.poll != nil {
		c.poll.remove(c)
	}
}
