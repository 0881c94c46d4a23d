//go:build linux

package wsconn

import (
	"sync"
	"syscall"
	"time"
)

// poller waits for readability of every idle connection of the process on
// one epoll instance, with one goroutine, instead of a goroutine (and its
// stack) per idle connection. A connection is registered one-shot: an
// event hands it to a goroutine that reads the burst, which re-arms it.
// The goroutine is the process's, like the runtime's own network poller:
// it lives as long as the process.
type poller struct {
	epfd  int
	mu    sync.Mutex
	conns map[uint64]*Conn
	next  uint64
}

// thePoller returns the process's poller, made on first use; nil if epoll
// is not available (connections then keep their waiting goroutines).
func thePoller() *poller {
	pollerOnce.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		pollerVal = &poller{epfd: fd, conns: make(map[uint64]*Conn)}
		go pollerVal.run()
	})
	return pollerVal
}

var (
	pollerOnce sync.Once
	pollerVal  *poller
)

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func (p *poller) run() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err != syscall.EINTR {
				time.Sleep(10 * time.Millisecond) // not expected; never spin
			}
			continue
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			p.mu.Lock()
			c := p.conns[id]
			p.mu.Unlock()
			if c != nil {
				c.readable()
			}
		}
	}
}

// add registers c and arms it.
func (p *poller) add(c *Conn, rc syscall.RawConn) error {
	p.mu.Lock()
	p.next++
	id := p.next
	c.pollID, c.rc = id, rc // before the poller can find c
	p.conns[id] = c
	p.mu.Unlock()
	if err := p.ctl(c, syscall.EPOLL_CTL_ADD); err != nil {
		p.remove(c)
		return err
	}
	return nil
}

// rearm waits for c's next readability.
func (p *poller) rearm(c *Conn) error { return p.ctl(c, syscall.EPOLL_CTL_MOD) }

// ctl runs epoll_ctl on c's descriptor while the descriptor is held
// (RawConn.Control): a connection closed meanwhile fails here, and its
// number, reused by a new connection, is never touched.
func (p *poller) ctl(c *Conn, op int) error {
	var err error
	ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(uint32(c.pollID)), Pad: int32(uint32(c.pollID >> 32))}
	if cerr := c.rc.Control(func(fd uintptr) { err = syscall.EpollCtl(p.epfd, op, int(fd), &ev) }); cerr != nil {
		return cerr
	}
	return err
}

// remove forgets c; closing its descriptor takes it out of the epoll set.
func (p *poller) remove(c *Conn) {
	p.mu.Lock()
	delete(p.conns, c.pollID)
	p.mu.Unlock()
}

// pollerFor returns the poller and c's descriptor, or nil if c's
// connection has no descriptor (a pipe, a wrapper) or there is no poller.
func pollerFor(c *Conn) (*poller, syscall.RawConn) {
	p := thePoller()
	sc, ok := c.conn.(syscall.Conn)
	if p == nil || !ok {
		return nil, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, nil
	}
	return p, rc
}
