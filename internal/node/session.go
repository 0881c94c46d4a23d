package node

import (
	"context"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley"
)

// Codec encodes what node sends to a session in the session's wire format.
// Implementations must be comparable (node caches one encoding of an event
// per Codec) and safe for concurrent use.
type Codec interface {
	EncodeEvent(ev *parley.Event) []byte
	EncodeReply(r *parley.Reply) []byte
	EncodeError(ref string, err error) []byte
}

// Outbox is the transport's side of a session.
type Outbox interface {
	// Send queues frame without blocking and without copying it (the same
	// frame may be queued on many sessions). It returns false if the
	// connection is closing; a transport that cannot queue more closes the
	// connection itself.
	Send(frame []byte) bool
	// Close ends the connection because of reason, whose code the transport
	// maps to its own close code (EUnavailable: going away; ERateLimited:
	// policy violation).
	Close(reason error)
}

// Session is one client connection as node sees it. Create it with Connect
// and end it with Disconnect.
type Session struct {
	out    Outbox
	codec  Codec
	remote string
	peer   Peer

	// Owned by the goroutine that calls Handle.
	limiter  tokenBucket
	strikes  int
	typingAt map[string]time.Time

	pipe pipeline // sends waiting for the store (pipeline.go)

	// Written under n.mu at hello and join/leave; read under n.mu, or
	// without it by the Handle goroutine (the only writer).
	nick      string
	key       string
	claimedAt time.Time
	rooms     []*room // the rooms it is in (at most MaxRooms; a slice: most sessions are in one or two)
	// login is the hash of the login session token the session came in
	// with ("" for a guest's claim token): when that login ends (a
	// password change) the session is closed.
	login string
	// account is the NickKey of the account whose login cookie the
	// connection carried, whatever nickname it took: an account ban ends
	// it too.
	account string

	role  atomic.Int32 // roleLevel of the user's role: EventRole changes it
	ended atomic.Bool  // kicked, banned or logged out: its commands are ignored

	maxDM atomic.Int64 // ID of the newest direct message queued to this session

	// resumes: per conversation resumed, the hold and floor of live
	// messages (resume.go); copy-on-write, written by the Handle goroutine.
	resumes atomic.Pointer[map[string]*roomResume]
}

// Nickname returns the session's nickname, or "" before hello. Only the
// goroutine that calls Handle may call it.
func (s *Session) Nickname() string { return s.nick }

func (s *Session) send(frame []byte) { s.out.Send(frame) }

// roleNow returns the role of the session's user (RoleUser for a guest) as
// this node knows it now.
func (s *Session) roleNow() parley.Role { return roleOfLevel(s.role.Load()) }

func (s *Session) setRole(r parley.Role) { s.role.Store(roleLevel(r)) }

func roleLevel(r parley.Role) int32 {
	switch r {
	case parley.RoleModerator:
		return 1
	case parley.RoleAdmin:
		return 2
	}
	return 0
}

func roleOfLevel(l int32) parley.Role {
	switch l {
	case 1:
		return parley.RoleModerator
	case 2:
		return parley.RoleAdmin
	}
	return parley.RoleUser
}

// end closes the session because of err (kicked, banned), after an error
// frame saying why; its commands are ignored from now on.
func (s *Session) end(err error) {
	if s.ended.Swap(true) {
		return
	}
	s.send(s.codec.EncodeError("", err))
	s.out.Close(err)
}

func (s *Session) noteDM(id int64) {
	for {
		cur := s.maxDM.Load()
		if id <= cur || s.maxDM.CompareAndSwap(cur, id) {
			return
		}
	}
}

// Peer is what a transport knows of who is at the other end of a
// connection.
type Peer struct {
	Addr string     // the remote address, for logs
	IP   netip.Addr // the client's address (past trusted proxies), for bans; may be invalid
	// Token is the login session token the connection carried in its
	// cookie (the web page), "" if none: hello may use it.
	Token string
}

// Connect registers a new connection from peer that speaks codec and is
// written through out.
func (n *Node) Connect(out Outbox, codec Codec, peer Peer) *Session {
	s := &Session{
		out: out, codec: codec, remote: peer.Addr, peer: peer,
		limiter: newTokenBucket(n.cfg.Rate, n.cfg.Burst, n.cfg.Now()),
	}
	n.mu.Lock()
	n.sessions[s] = struct{}{}
	n.mu.Unlock()
	return s
}

// room returns the room named name if s is in it.
func (s *Session) room(name string) *room {
	for _, r := range s.rooms {
		if r.name == name {
			return r
		}
	}
	return nil
}

// Disconnect removes s from every room and index; others in its rooms see
// it leave unless the same person is still there from another connection.
// It must be called once, after the last Handle of s returned; it waits
// for the sends s queued to be answered.
func (n *Node) Disconnect(ctx context.Context, s *Session) {
	s.awaitSends()
	n.mu.Lock()
	delete(n.sessions, s)
	type leaving struct {
		room      string
		elsewhere bool // the user is in the room on another node
	}
	var left []leaving
	for _, r := range slices.Clone(s.rooms) { // removeLocked edits s.rooms
		if r.removeLocked(s) {
			left = append(left, leaving{r.name, n.presentRemotelyLocked(r.name, s.key)})
		}
		n.dropRoomIfEmptyLocked(r)
	}
	if s.key != "" {
		n.users[s.key] = without(n.users[s.key], s)
		if len(n.users[s.key]) == 0 {
			delete(n.users, s.key)
		}
	}
	n.mu.Unlock()

	for _, l := range left {
		n.presenceChanged(ctx, &parley.Event{Kind: parley.EventLeft, Room: l.room, Nickname: s.nick}, l.elsewhere)
	}
	if s.key != "" {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
		if err := n.store.TouchUser(ctx, s.nick, n.cfg.Now(), s.maxDM.Load(), ""); err != nil {
			n.log.Warn("record user last seen", "nick", s.nick, "err", err)
		}
	}
}

func without(list []*Session, s *Session) []*Session {
	out := list[:0:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
