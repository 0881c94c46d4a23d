package wsconn

import (
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// copyLimit is the batch size up to which frames are copied into one buffer
// and written with write(2); larger batches use writev(2) without copying.
const copyLimit = 64 << 10

type scratch struct {
	buf  []byte
	bufs net.Buffers
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 4096)} }}

// writeLoop is the writer: it takes everything queued and writes it at
// once, until the queue is empty; then it ends. At most one runs per
// connection (the writing flag).
func (c *Conn) writeLoop() {
	defer c.writers.Done()
	// A busy connection (written to within the last coalesceWindow) waits
	// that long first, so that the frames of a burst go out in one write
	// instead of one write each: far fewer system calls under load, at the
	// price of at most coalesceWindow of latency, and none when quiet.
	if last := c.lastWrite.Load(); last != 0 && time.Since(time.Unix(0, last)) < coalesceWindow {
		time.Sleep(coalesceWindow)
	}
	for {
		c.mu.Lock()
		batch, closing := c.queue, c.closing
		if len(batch) == 0 {
			// Idle again: the queue's memory goes (most connections are
			// idle most of the time): its arrays go back to the pool.
			putQueue(c.queue)
			putQueue(c.spare)
			c.writing, c.queue, c.spare = false, nil, nil
			c.mu.Unlock()
			return
		}
		c.queue, c.spare, c.bytes, c.msgs = c.spare[:0], nil, 0, 0
		c.mu.Unlock()

		wait := c.cfg.WriteWait
		if closing {
			wait = closeGrace
		}
		closeSent, err := c.writeBatch(batch, wait)
		c.lastWrite.Store(time.Now().UnixNano())
		clear(batch)
		c.mu.Lock()
		if cap(batch) <= maxKeptQueue {
			c.spare = batch[:0] // for the next round of this burst
		}
		if closeSent {
			c.closeBy = time.Now().Add(closeGrace)
		}
		if err != nil {
			c.closing, c.writing = true, false
			clear(c.queue)
			c.queue, c.bytes, c.msgs = nil, 0, 0
			c.mu.Unlock()
			c.terminate() // the read loop ends
			return
		}
		c.mu.Unlock()
		if closeSent {
			// Wake the read loop so it waits for the peer's close reply
			// at most closeGrace.
			c.wakeForClose()
		}
	}
}

// writeBatch writes the frames with one system call (per copyLimit bytes
// for large batches) and reports whether a close frame was among them.
func (c *Conn) writeBatch(batch []frame, wait time.Duration) (closeSent bool, err error) {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	total := 0
	for _, f := range batch {
		total += len(f.payload) + maxHeaderLen
		closeSent = closeSent || f.op == ws.OpClose
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(wait))
	if len(batch) == 1 && batch[0].op == opFramed {
		_, err = c.conn.Write(batch[0].payload) // a room's batch, framed already
		return closeSent, err
	}
	if total <= copyLimit {
		s.buf = s.buf[:0]
		for _, f := range batch {
			if f.op != opFramed {
				s.buf = appendHeader(s.buf, f.op, len(f.payload))
			}
			s.buf = append(s.buf, f.payload...)
		}
		_, err = c.conn.Write(s.buf)
		return closeSent, err
	}
	// Headers first, so that their backing array stays put.
	s.buf = s.buf[:0]
	for _, f := range batch {
		if f.op != opFramed {
			s.buf = appendHeader(s.buf, f.op, len(f.payload))
		}
	}
	s.bufs = s.bufs[:0]
	off := 0
	for _, f := range batch {
		if f.op != opFramed {
			n := headerLen(len(f.payload))
			s.bufs = append(s.bufs, s.buf[off:off+n])
			off += n
		}
		if len(f.payload) > 0 {
			s.bufs = append(s.bufs, f.payload)
		}
	}
	bufs := s.bufs // WriteTo consumes its receiver
	_, err = bufs.WriteTo(c.conn)
	clear(s.bufs)
	return closeSent, err
}

const maxHeaderLen = 10 // server frames are not masked

func headerLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xFFFF:
		return 4
	}
	return 10
}

// appendHeader appends an unmasked, final frame header.
func appendHeader(b []byte, op ws.OpCode, n int) []byte {
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xFFFF:
		return append(b, 126, byte(n>>8), byte(n))
	}
	return append(b, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
