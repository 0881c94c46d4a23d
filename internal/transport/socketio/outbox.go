package socketio

import (
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/parley-chat/parley"
)

// outbox is node's side of one socket (node.Outbox): a bounded queue of
// frames and a writer goroutine that exists only while frames are queued,
// so node's fan-out never waits for a socket. It also keeps the socket's
// pending acknowledgement callbacks by ref.
type outbox struct {
	sock  *socket.Socket
	codec *codec
	log   *slog.Logger
	max   limits

	mu      sync.Mutex // guards the fields below; never held while writing
	queue   [][]byte
	bytes   int
	writing bool
	closing bool
	acks    map[string]socket.Ack
	nextRef uint64
	// closeReason is why the connection is being closed.
	closeReason error

	// unflushed counts the packets handed to Engine.IO that it has not
	// written yet (a polling client that stops polling leaves them in its
	// buffer); reset on every "drain".
	unflushed atomic.Int64
}

// limits bound one socket's outbox.
type limits struct{ messages, bytes int }

// closeMark is queued after the last frame of a socket being closed.
var closeMark = []byte{1}

func newOutbox(sock *socket.Socket, c *codec, max limits, log *slog.Logger) *outbox {
	o := &outbox{sock: sock, codec: c, max: max, log: log, acks: make(map[string]socket.Ack)}
	sock.Conn().On("drain", func(...any) { o.unflushed.Store(0) })
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
	defer o.mu.Unlock()
	if o.closing {
		return false
	}
	if len(o.queue)+1 > o.max.messages || o.bytes+len(frame) > o.max.bytes ||
		o.unflushed.Load() > int64(o.max.messages) {
		o.slowLocked()
		return false
	}
	o.enqueueLocked(frame)
	return true
}

// Close implements node.Outbox: the client gets an error event with the
// reason, then the connection ends.
func (o *outbox) Close(reason error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closeLocked(reason)
}

func (o *outbox) closeLocked(reason error) {
	if o.closing {
		return
	}
	o.closing = true
	o.enqueueLocked(o.codec.EncodeError("", reason))
	o.enqueueLocked(closeMark)
	o.closeReason = reason
}

// slowLocked drops what is queued (the memory is the point) and closes a
// socket that cannot keep up; the client reconnects and resumes.
func (o *outbox) slowLocked() {
	clear(o.queue)
	o.queue, o.bytes = o.queue[:0], 0
	o.closeLocked(parley.Errorf(parley.EUnavailable, "you fell behind: reconnect and resume from your last sequence number"))
}

// stop ends the outbox when the socket is gone.
func (o *outbox) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closing = true
	clear(o.queue)
	o.queue, o.bytes = nil, 0
	clear(o.acks)
}

func (o *outbox) enqueueLocked(frame []byte) {
	o.queue = append(o.queue, frame)
	o.bytes += len(frame)
	if !o.writing {
		o.writing = true
		go o.writeLoop()
	}
}

// writeLoop writes what is queued, in order, until the queue is empty.
func (o *outbox) writeLoop() {
	for {
		o.mu.Lock()
		batch := o.queue
		if len(batch) == 0 {
			o.writing = false
			o.mu.Unlock()
			return
		}
		o.queue, o.bytes = nil, 0
		o.mu.Unlock()
		for _, frame := range batch {
			o.write(frame)
		}
	}
}

func (o *outbox) write(frame []byte) {
	switch {
	case len(frame) == 1 && frame[0] == closeMark[0]:
		o.mu.Lock()
		reason := o.closeReason
		o.mu.Unlock()
		o.terminate(reason)
	case frame[0] == ackMark:
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
	default:
		o.unflushed.Add(1)
		o.sock.Client().WriteToEngine([]types.BufferInterface{types.NewStringBuffer(frame)}, &socket.WriteOptions{})
	}
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
