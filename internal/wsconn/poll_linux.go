//go:build linux

package wsconn

import (
	"sync"
	"syscall"
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

// thePoller is made on first use; nil if epoll is not available, and then
// connections wait on goroutines of their own.
var thePoller = sync.OnceValue(func() *poller {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	p := &poller{epfd: fd, conns: make(map[uint64]*Conn)}
	go p.run()
	return p
})

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func (p *poller) run() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			continue // EINTR
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

// add registers c (whose descriptor is fd) and arms it.
func (p *poller) add(c *Conn, fd int) error {
	p.mu.Lock()
	p.next++
	id := p.next
	c.pollID, c.fd = id, fd // before the poller can find c
	p.conns[id] = c
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.remove(c)
		return err
	}
	return nil
}

// rearm waits for c's next readability.
func (p *poller) rearm(c *Conn) error {
	ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(uint32(c.pollID)), Pad: int32(uint32(c.pollID >> 32))}
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, c.fd, &ev)
}

// remove forgets c; closing its descriptor takes it out of the epoll set.
func (p *poller) remove(c *Conn) {
	p.mu.Lock()
	delete(p.conns, c.pollID)
	p.mu.Unlock()
}

// pollerFor returns the poller and c's descriptor, or nil if c's
// connection has no descriptor (a pipe, a wrapper) or there is no poller.
func pollerFor(c *Conn) (*poller, int) {
	p := thePoller()
	sc, ok := c.conn.(syscall.Conn)
	if p == nil || !ok {
		return nil, 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, 0
	}
	fd := -1
	if rc.Control(func(d uintptr) { fd = int(d) }) != nil || fd < 0 {
		return nil, 0
	}
	return p, fd
}
