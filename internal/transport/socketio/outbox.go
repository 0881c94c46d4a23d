package socketio

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3/transports"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/parley-chat/parley"
)

// outbox is node's side of one socket (node.Outbox). Engine.IO does the
// network writes on its own per-connection goroutine: handing it a packet
// (Client.WriteToEngine) only queues it, so Send writes through at once and
// node's fan-out never waits for a socket. The bound is on what Engine.IO
// holds unflushed — a WebSocket peer that does not read, or a polling
// client that stopped polling — counted here and reset on every "drain".
// The outbox also keeps the socket's pending acknowledgement callbacks.
type outbox struct {
	sock  *socket.Socket
	codec *codec
	max   limits
	slow  *atomic.Int64 // the server's count of sockets cut off for falling behind

	mu      sync.Mutex // guards the fields below; never held while calling the library
	closing bool
	acks    map[string]socket.Ack
	nextRef uint64

	unflushed      atomic.Int64 // packets handed to Engine.IO and not written yet
	unflushedBytes atomic.Int64
	fellBehind     atomic.Bool // counted in slow already
}

// limits bound one socket's outbox.
type limits struct{ messages, bytes int }

func newOutbox(sock *socket.Socket, c *codec, max limits, slow *atomic.Int64) *outbox {
	o := &outbox{sock: sock, codec: c, max: max, slow: slow, acks: make(map[string]socket.Ack)}
	sock.Conn().On("drain", func(...any) {
		o.unflushed.Store(0)
		o.unflushedBytes.Store(0)
	})
	return o
}

// register keeps an acknowledgement callback and returns the ref that
// node will put on the reply or error answering it.
func (o *outbox) register(ack socket.Ack) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.nextRef++
	ref := strconv.FormatUint(o.nextRef, 36)
	o.acks[ref] = ack
	return ref
}

// Send implements node.Outbox.
func (o *outbox) Send(frame []byte) bool {
	if len(frame) == 0 {
		return true // nothing for this kind of socket (a reply without ack)
	}
	o.mu.Lock()
	closing := o.closing
	o.mu.Unlock()
	if closing {
		return false
	}
	if o.unflushed.Load() >= int64(o.max.messages) || o.unflushedBytes.Load()+int64(len(frame)) > int64(o.max.bytes) {
		o.slowConsumer()
		o.Close(parley.Errorf(parley.EUnavailable, "you fell behind: reconnect and resume from your last sequence number"))
		return false
	}
	o.write(frame)
	return true
}

// slowConsumer counts the socket as cut off for falling behind, once.
func (o *outbox) slowConsumer() {
	if o.fellBehind.CompareAndSwap(false, true) {
		o.slow.Add(1)
	}
}

// Close implements node.Outbox: the client gets an error event with the
// reason, then the connection ends.
func (o *outbox) Close(reason error) {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return
	}
	o.closing = true
	o.mu.Unlock()
	// The error event goes straight to Engine.IO with a callback for when
	// it is written: closing the transport drops what is still queued.
	written := make(chan struct{})
	var once sync.Once
	o.sock.Conn().Write(types.NewStringBuffer(o.codec.EncodeError("", reason)), nil,
		func(transports.Transport) { once.Do(func() { close(written) }) })
	go func() { // not on the caller's goroutine, which may be the socket's own
		select {
		case <-written:
		case <-time.After(closeGrace):
		}
		o.terminate(reason)
	}()
}

// closeGrace bounds the wait for the last error event to be written.
const closeGrace = time.Second

// stop ends the outbox when the socket is gone.
func (o *outbox) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closing = true
	clear(o.acks)
}

// write hands one frame to the library: an ack frame to its callback, a
// packet to Engine.IO.
func (o *outbox) write(frame []byte) {
	if frame[0] == ackMark {
		ref, body, ok := parseAck(frame)
		if !ok {
			return
		}
		o.mu.Lock()
		ack := o.acks[ref]
		delete(o.acks, ref)
		o.mu.Unlock()
		if ack != nil {
			ack([]any{rawJSON{body}}, nil)
		}
		return
	}
	o.unflushed.Add(1)
	o.unflushedBytes.Add(int64(len(frame)))
	o.sock.Client().WriteToEngine([]types.BufferInterface{types.NewStringBuffer(frame)}, &socket.WriteOptions{})
}

// terminate ends the connection. A server going away or a socket that fell
// behind closes the transport, so the client reconnects by itself; anything
// else (flooding) disconnects the socket, and clients do not reconnect
// after that.
func (o *outbox) terminate(reason error) {
	if parley.ErrorCode(reason) == parley.EUnavailable {
		o.sock.Conn().Close(false)
		return
	}
	o.sock.Disconnect(true)
}
