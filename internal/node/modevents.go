package node

import (
	"context"

	"github.com/parley-chat/parley"
)

// What each node does with the moderation events of any node (its own
// come here from publish, the others' from the broker): it acts on its own
// sessions only.

// eventLoginsEnded tells every node that login sessions of Nickname ended
// (a password change): each closes its sessions of that user that came in
// with a login the store no longer has. Nodes only; the token hashes never
// travel.
const eventLoginsEnded parley.EventKind = "node.logins_ended"

// roleChanged gives the sessions of ev.Nickname here their new role and
// tells them.
func (n *Node) roleChanged(ev *parley.Event) {
	key := parley.NickKey(ev.Nickname)
	var fc frameCache
	n.mu.RLock()
	for _, s := range n.users[key] {
		s.setRole(ev.Role)
	}
	sent := fc.sendAll(ev, n.users[key], "")
	n.mu.RUnlock()
	n.delivered.Add(int64(sent))
}

// kicked ends every session of ev.Nickname here; ev.Reason is what they
// are told.
func (n *Node) kicked(ev *parley.Event) {
	key := parley.NickKey(ev.Nickname)
	err := parley.Errorf(parley.EKicked, "%s", ev.Reason)
	n.endSessions(func(s *Session) bool { return s.key == key }, err)
}

// banned ends every session here that ev.Ban matches: an account ban its
// user's sessions and those that carry its login cookie under another
// nickname, a nickname ban that nickname's, an IP ban those from the
// address but moderators' and admins'.
func (n *Node) banned(ev *parley.Event) {
	b := ev.Ban
	if b == nil || !b.ActiveAt(n.cfg.Now()) {
		return
	}
	key := parley.NickKey(b.Value)
	var match func(s *Session) bool
	switch b.Kind {
	case parley.BanAccount:
		match = func(s *Session) bool { return s.key == key || s.account == key }
	case parley.BanNickname:
		match = func(s *Session) bool { return s.key == key }
	case parley.BanIP:
		// Moderators and admins on the address stay (hello lets them in).
		match = func(s *Session) bool { return b.MatchesIP(s.peer.IP) && !s.roleNow().CanModerate() }
	default:
		return
	}
	n.endSessions(match, bannedError(b))
}

// endSessions ends the sessions here that said hello and match, with err.
func (n *Node) endSessions(match func(*Session) bool, err error) int {
	var hit []*Session
	n.mu.RLock()
	for s := range n.sessions {
		if s.key != "" && match(s) {
			hit = append(hit, s)
		}
	}
	n.mu.RUnlock()
	for _, s := range hit {
		s.end(err)
	}
	return len(hit)
}

// loginsEnded closes the sessions of ev.Nickname here that came in with a
// login session the store no longer has. It asks the store on a goroutine
// of its own (events come in on the broker's).
func (n *Node) loginsEnded(ev *parley.Event) {
	key := parley.NickKey(ev.Nickname)
	type loggedIn struct {
		s     *Session
		login string
	}
	var check []loggedIn
	n.mu.RLock()
	for _, s := range n.users[key] {
		if s.login != "" {
			check = append(check, loggedIn{s, s.login})
		}
	}
	n.mu.RUnlock()
	if len(check) == 0 || !n.begin() {
		return
	}
	go func() {
		defer n.inflight.Done()
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		gone := map[string]bool{}
		for _, c := range check {
			ended, seen := gone[c.login]
			if !seen {
				_, err := n.store.SessionUser(ctx, c.login, n.cfg.Now())
				if err != nil && parley.ErrorCode(err) != parley.ENotFound {
					n.log.Warn("check a login session after a password change", "nick", ev.Nickname, "err", err)
					continue
				}
				ended = err != nil
				gone[c.login] = ended
			}
			if ended {
				c.s.end(parley.Errorf(parley.EKicked, "password changed"))
			}
		}
	}()
}
