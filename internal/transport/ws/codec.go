package ws

import (
	"github.com/gobwas/ws"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/protocol"
	"github.com/parley-chat/parley/internal/wsconn"
)

// Codec is the native wire format as node.Codec.
type Codec struct{}

var _ node.Codec = Codec{}

// EncodeEvent implements node.Codec.
func (Codec) EncodeEvent(ev *parley.Event) []byte { return protocol.EncodeEvent(ev) }

// EncodeReply implements node.Codec.
func (Codec) EncodeReply(r *parley.Reply) []byte { return protocol.EncodeReply(r) }

// EncodeError implements node.Codec.
func (Codec) EncodeError(ref string, err error) []byte { return protocol.EncodeError(ref, err) }

// outbox adapts a wsconn.Conn to node.Outbox.
type outbox struct{ c *wsconn.Conn }

// Send implements node.Outbox.
func (o outbox) Send(frame []byte) bool { return o.c.Send(frame) }

// SendBatch implements node.BatchOutbox: the batch is framed once for
// every connection it goes to, and written by each with one system call.
func (o outbox) SendBatch(b *node.Batch) bool {
	return o.c.SendFramed(b.Joined(frameText), len(b.Frames))
}

func frameText(frames [][]byte) []byte {
	n := 0
	for _, f := range frames {
		n += len(f) + 10
	}
	return wsconn.AppendText(make([]byte, 0, n), frames)
}

// Close implements node.Outbox: the reason's code picks the close code.
func (o outbox) Close(reason error) {
	o.c.Close(CloseCode(reason), parley.ErrorMessage(reason))
}

// Close codes beyond those wsconn uses itself (1002, 1003, 1007, 1009 for
// broken frames; wsconn.CloseSlowConsumer for a full outbox).
var closeCodes = map[string]ws.StatusCode{
	parley.EUnavailable: ws.StatusGoingAway,       // 1001: server shutting down; reconnect elsewhere or later
	parley.ERateLimited: ws.StatusPolicyViolation, // 1008: flooding far past the rate limit
	parley.ETooLarge:    ws.StatusMessageTooBig,   // 1009
	parley.EKicked:      CloseKicked,
	parley.EBanned:      CloseBanned,
}

// Close codes of moderation (4000 is wsconn.CloseSlowConsumer).
const (
	CloseKicked ws.StatusCode = 4001 // a moderator ended the session; reconnecting is allowed
	CloseBanned ws.StatusCode = 4002 // a ban holds; reconnecting is refused until it ends
)

// CloseCode returns the WebSocket close code for ending a connection
// because of err: the one place where an error becomes a close code.
func CloseCode(err error) ws.StatusCode {
	if c, ok := closeCodes[parley.ErrorCode(err)]; ok {
		return c
	}
	return ws.StatusInternalServerError
}
