//go:build linux

package wsconn

import (
	"os"
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
	wait  syscall.RawConn // epfd, waited for by Go's own network poller
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
		// The epoll descriptor is itself pollable: Go's runtime waits for
		// it like for any socket, so the poller's goroutine is woken by the
		// scheduler's own network poll, not by a thread returning from a
		// blocking epoll_wait that must win a P back (under load that put
		// every event behind the global run queue: acks ten times slower).
		if syscall.SetNonblock(fd, true) != nil {
			syscall.Close(fd)
			return
		}
		rc, err := os.NewFile(uintptr(fd), "wsconn-epoll").SyscallConn()
		if err != nil {
			return
		}
		pollerVal = &poller{epfd: fd, wait: rc, conns: make(map[uint64]*Conn)}
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
		err := p.wait.Read(func(fd uintptr) bool {
			n, err := syscall.EpollWait(int(fd), events, 0)
			if n <= 0 || err != nil {
				return false // nothing ready: wait until the descriptor is readable
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
			return true
		})
		if err != nil {
			time.Sleep(10 * time.Millisecond) // not expected; never spin
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
