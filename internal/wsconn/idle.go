package wsconn

import (
	"time"

	"github.com/gobwas/ws"
)

// With a poller (poll_linux.go) an idle connection has no goroutine at
// all: the poller hands it to readable when bytes arrive, and a timer
// (onTimer) sends the pings and ends a silent connection. The read state
// says who owns the read side; rmu guards it, lastSeen and the timer.
const (
	rIdle    = iota // waiting: registered with the poller, timer armed
	rReading        // a goroutine reads the burst (pollBurst)
	rEnded          // finish runs or ran
)

// startPolled registers c with the poller; false if it cannot be (then
// the caller waits on a goroutine).
func (c *Conn) startPolled() bool {
	p, fd := pollerFor(c)
	if p == nil {
		return false
	}
	c.rmu.Lock()
	c.poll, c.rstate = p, rIdle
	c.timer = time.AfterFunc(c.idleWaitLocked(), c.onTimer)
	c.rmu.Unlock()
	if err := p.add(c, fd); err != nil {
		c.rmu.Lock()
		c.timer.Stop()
		c.poll = nil
		c.rmu.Unlock()
		return false
	}
	if c.src != c.conn {
		c.readable() // the upgrade had buffered bytes: read them now
	}
	return true
}

// readable takes an idle connection whose peer sent something.
func (c *Conn) readable() {
	c.rmu.Lock()
	if c.rstate != rIdle {
		c.rmu.Unlock()
		return
	}
	c.rstate = rReading
	c.timer.Stop()
	c.lastSeen = time.Now()
	c.rmu.Unlock()
	go c.pollBurst()
}

// pollBurst reads what arrived, then waits again (re-armed) or ends.
func (c *Conn) pollBurst() {
	_ = c.conn.SetReadDeadline(c.frameDeadline())
	err := c.readPooled()
	if err != nil {
		c.end(err)
		return
	}
	c.rmu.Lock()
	if c.rstate != rReading {
		c.rmu.Unlock()
		return
	}
	c.rstate = rIdle
	c.timer.Reset(c.idleWaitLocked())
	c.rmu.Unlock()
	if err := c.poll.rearm(c); err != nil {
		c.endIdle(err) // the connection was closed meanwhile
	}
}

// onTimer runs when an idle connection has been silent for a ping period,
// for the pong wait, or past the close grace.
func (c *Conn) onTimer() {
	c.rmu.Lock()
	if c.rstate != rIdle {
		c.rmu.Unlock()
		return
	}
	now := time.Now()
	closing, closeBy := c.closeState()
	switch {
	case closing && !closeBy.IsZero() && !now.Before(closeBy):
		c.rmu.Unlock()
		c.endIdle(errClosed) // the peer did not answer our close frame
		return
	case now.Sub(c.lastSeen) >= c.cfg.PongWait:
		c.rmu.Unlock()
		c.endIdle(errPingTimeout)
		return
	case !closing:
		go c.control0(ws.OpPing, nil)
	}
	c.timer.Reset(c.idleWaitLocked())
	c.rmu.Unlock()
}

// idleWaitLocked is how long an idle connection waits before onTimer:
// a ping period, or less if the pong wait or the close grace ends first.
func (c *Conn) idleWaitLocked() time.Duration {
	now := time.Now()
	d := min(c.lastSeen.Add(c.cfg.PongWait).Sub(now), c.cfg.PingPeriod)
	if closing, closeBy := c.closeState(); closing && !closeBy.IsZero() {
		d = min(d, closeBy.Sub(now))
	}
	return max(d, 0)
}

// closeState reads the outbox's closing state.
func (c *Conn) closeState() (closing bool, closeBy time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing, c.closeBy
}

// frameDeadline bounds reading the frames of a burst: the pong wait, or
// what is left of the close grace.
func (c *Conn) frameDeadline() time.Time {
	d := time.Now().Add(c.cfg.PongWait)
	if closing, closeBy := c.closeState(); closing && !closeBy.IsZero() && closeBy.Before(d) {
		d = closeBy
	}
	return d
}

// wakeForClose makes the read side wait for the peer's close reply at most
// closeGrace from now (our close frame is out).
func (c *Conn) wakeForClose() {
	_ = c.conn.SetReadDeadline(time.Now().Add(closeGrace)) // a goroutine reading
	c.rmu.Lock()
	if c.poll != nil && c.rstate == rIdle {
		c.timer.Reset(closeGrace)
	}
	c.rmu.Unlock()
}

// endIdle ends a polled connection if it is idle (a reading goroutine
// ends it itself when its read fails).
func (c *Conn) endIdle(err error) {
	c.rmu.Lock()
	idle := c.poll != nil && c.rstate == rIdle
	c.rmu.Unlock()
	if idle {
		c.end(err)
	}
}

// end ends the read side of a polled connection, once.
func (c *Conn) end(err error) {
	c.rmu.Lock()
	if c.rstate == rEnded {
		c.rmu.Unlock()
		return
	}
	c.rstate = rEnded
	c.timer.Stop()
	c.rmu.Unlock()
	c.poll.remove(c)
	go c.finish(err) // never on the writer's goroutine: finish waits for it
}
