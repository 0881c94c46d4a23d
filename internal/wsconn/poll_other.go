//go:build !linux

package wsconn

import "syscall"

// poller is Linux's epoll (poll_linux.go); elsewhere every connection
// waits on a goroutine of its own.
type poller struct{}

func (p *poller) add(c *Conn, rc syscall.RawConn) error { return nil }
func (p *poller) rearm(c *Conn) error                   { return nil }
func (p *poller) remove(c *Conn)                        {}

func pollerFor(c *Conn) (*poller, syscall.RawConn) { return nil, nil }

func thePoller() *poller { return nil }
