package node

import (
	"context"
	"errors"
	"time"

	"github.com/parley-chat/parley"
)

// handler runs one command for a session that passed the rate limit (and,
// except for hello, said hello). It returns the reply to send, or nil for
// none.
type handler func(n *Node, ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error)

var handlers = map[parley.Op]handler{
	parley.OpHello:    (*Node).hello,
	parley.OpJoin:     (*Node).join,
	parley.OpLeave:    (*Node).leave,
	parley.OpRooms:    (*Node).listRooms,
	parley.OpSend:     (*Node).sendRoom,
	parley.OpDirect:   (*Node).sendDirect,
	parley.OpHistory:  (*Node).history,
	parley.OpPresence: (*Node).presence,
	parley.OpTyping:   (*Node).typing,
	parley.OpResume:   (*Node).resume,

	parley.OpConversations: (*Node).conversations,
}

// Handle runs cmd for s and queues the reply, or an error frame, on s. It
// must be called from one goroutine per session.
func (n *Node) Handle(ctx context.Context, s *Session, cmd parley.Command) {
	n.cfg.Metrics.Command(cmd.Op)
	if s.ended.Load() {
		return // kicked or banned: the connection is closing
	}
	if !n.begin() {
		n.sendError(s, cmd.Ref, errShuttingDown)
		return
	}
	defer n.inflight.Done()
	if !n.admit(s, cmd.Ref) {
		return
	}
	h, ok := handlers[cmd.Op]
	if !ok {
		n.sendError(s, cmd.Ref, parley.Errorf(parley.EUnknownType, "unknown command type %q", cmd.Op))
		return
	}
	if cmd.Op != parley.OpHello && s.key == "" {
		n.sendError(s, cmd.Ref, parley.Errorf(parley.ENotAuthenticated, "say hello with a nickname first"))
		return
	}
	if cmd.Op != parley.OpSend && cmd.Op != parley.OpDirect {
		s.awaitSends()
	}
	reply, err := h(n, ctx, s, &cmd)
	n.answer(s, cmd.Op, cmd.Ref, reply, err)
	if cmd.Op == parley.OpResume && err == nil && reply != nil {
		n.afterResume(s, &cmd, reply)
	}
	if cmd.Op == parley.OpHello && err == nil {
		n.afterHello(ctx, s)
	}
}

// answer queues the reply to a command, or its error frame.
func (n *Node) answer(s *Session, op parley.Op, ref string, reply *parley.Reply, err error) {
	if err != nil && parley.ErrorCode(err) == parley.EInternal && errors.Is(err, context.DeadlineExceeded) {
		// The store did not answer in time: overload, not a bug.
		err = &parley.Error{Code: parley.EUnavailable, Message: "the server is busy; retry shortly", RetryAfter: time.Second}
	}
	switch {
	case err != nil:
		if parley.ErrorCode(err) == parley.EInternal {
			n.log.Error("command failed", "op", op, "nick", s.nick, "remote", s.remote, "err", err)
		}
		n.sendError(s, ref, err)
	case reply != nil:
		reply.Op, reply.Ref = op, ref
		s.send(s.codec.EncodeReply(reply))
	}
}

// Reject answers a frame the transport could not decode with err. It counts
// against the session's rate limit like any command.
func (n *Node) Reject(s *Session, ref string, err error) {
	n.cfg.Metrics.Command("")
	if n.admit(s, ref) {
		n.sendError(s, ref, err)
	}
}

// admit takes a token from the session's bucket. Without one, the client
// is told to slow down; a client that keeps going far past the limit is
// disconnected.
func (n *Node) admit(s *Session, ref string) bool {
	ok, wait := s.limiter.take(n.cfg.Now())
	if ok {
		s.strikes = 0
		return true
	}
	s.strikes++
	if s.strikes > n.cfg.FloodStrikes {
		n.log.Warn("closing flooding session", "nick", s.nick, "remote", s.remote)
		s.out.Close(parley.Errorf(parley.ERateLimited, "flooding"))
		return false
	}
	err := &parley.Error{Code: parley.ERateLimited, Message: "too many commands; slow down", RetryAfter: wait}
	n.sendError(s, ref, err)
	return false
}

// storeCtx bounds a store call made for a command.
func storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, storeTimeout)
}
