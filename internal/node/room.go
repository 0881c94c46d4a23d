package node

import (
	"slices"
	"sync/atomic"
)

// room is the local membership of one room: the sessions in it, for
// fan-out, and the people in it, for presence.
type room struct {
	name    string
	members atomic.Pointer[[]*Session] // copy-on-write; fan-out reads it without a lock
	people  map[string]person          // NickKey → person; guarded by n.mu
	fan     fanQueue                   // events waiting for fan-out (batch.go)
}

// person counts the sessions one user has in a room, so that a second tab
// neither announces a join nor, closing, a leave.
type person struct {
	nick     string
	sessions int
}

func newRoom(name string) *room {
	r := &room{name: name, people: make(map[string]person)}
	r.members.Store(&[]*Session{})
	return r
}

// addLocked adds s and reports whether its user was not in the room before.
func (r *room) addLocked(s *Session) (firstOfUser bool) {
	// Appending in place is safe for fan-out goroutines reading an older
	// snapshot: they see only their own length, and nothing below it is
	// ever written again (removal copies). Without this each join copied
	// the whole list — O(N²) garbage while a big room fills.
	next := append(*r.members.Load(), s)
	r.members.Store(&next)
	p := r.people[s.key]
	p.nick = s.nick
	p.sessions++
	r.people[s.key] = p
	s.rooms = append(s.rooms, r)
	return p.sessions == 1
}

// removeLocked removes s and reports whether its user is now gone.
func (r *room) removeLocked(s *Session) (lastOfUser bool) {
	next := without(*r.members.Load(), s)
	r.members.Store(&next)
	if i := slices.Index(s.rooms, r); i >= 0 {
		s.rooms = slices.Delete(s.rooms, i, i+1)
	}
	p := r.people[s.key]
	p.sessions--
	if p.sessions > 0 {
		r.people[s.key] = p
		return false
	}
	delete(r.people, s.key)
	return true
}

// dropRoomIfEmptyLocked forgets a room nobody here is in any more.
func (n *Node) dropRoomIfEmptyLocked(r *room) {
	if len(r.people) == 0 && n.rooms[r.name] == r {
		delete(n.rooms, r.name)
		n.seq.forget(r.name)
	}
}
