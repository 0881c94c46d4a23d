//go:build !linux

package wsconn

// poller is Linux's epoll (poll_linux.go); elsewhere every connection
// waits on a goroutine of its own.
type poller struct{}

func (p *poller) add(c *Conn, fd int) error { return nil }
func (p *poller) rearm(c *Conn) error       { return nil }
func (p *poller) remove(c *Conn)            {}

func pollerFor(c *Conn) (*poller, int) { return nil, 0 }
