package node

import (
	"context"

	"github.com/parley-chat/parley"
)

// join puts the session in a room, creating the room on first join.
// Joining a room one is in already succeeds and changes nothing.
func (n *Node) join(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	name, err := roomName(c.Room)
	if err != nil {
		return nil, err
	}
	if s.room(name) == nil && len(s.rooms) >= n.cfg.MaxRooms {
		return nil, parley.Errorf(parley.EInvalid, "a connection may be in at most %d rooms", n.cfg.MaxRooms)
	}
	sctx, cancel := storeCtx(ctx)
	info, err := n.store.EnsureRoom(sctx, name)
	cancel()
	if err != nil {
		return nil, err
	}
	n.seq.follow(name, info.LastSeq+1, n)
	n.mu.Lock()
	first := false
	if s.room(name) == nil {
		r := n.rooms[name]
		if r == nil {
			r = newRoom(name)
			n.rooms[name] = r
		}
		first = r.addLocked(s)
	}
	_, count := n.membersLocked(name, false)
	var members []string
	if n.cfg.PresenceLimit < 0 || count <= n.cfg.PresenceLimit {
		// A big room's list is not sent with every join: thousands of
		// joins would each copy, sort and send thousands of names.
		members, count = n.membersLocked(name, true)
	}
	elsewhere := first && n.presentRemotelyLocked(name, s.key)
	n.mu.Unlock()
	if first {
		n.presenceChanged(ctx, &parley.Event{Kind: parley.EventJoined, Room: name, Nickname: s.nick}, elsewhere)
	}
	return &parley.Reply{Room: name, Members: members, Count: count, LastSeq: info.LastSeq, SlowMode: info.SlowMode}, nil
}

// leave takes the session out of a room.
func (n *Node) leave(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	r, err := n.joined(s, c.Room)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	last := r.removeLocked(s)
	n.dropRoomIfEmptyLocked(r)
	elsewhere := last && n.presentRemotelyLocked(r.name, s.key)
	n.mu.Unlock()
	if last {
		n.presenceChanged(ctx, &parley.Event{Kind: parley.EventLeft, Room: r.name, Nickname: s.nick}, elsewhere)
	}
	return &parley.Reply{Room: r.name}, nil
}

// listRooms lists every room with the number of people in it, on every
// node.
func (n *Node) listRooms(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	rooms, err := n.store.Rooms(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]parley.RoomInfo, len(rooms))
	n.mu.RLock()
	for i, r := range rooms {
		out[i] = parley.RoomInfo{Name: r.Name, LastSeq: r.LastSeq}
		_, out[i].Members = n.membersLocked(r.Name, false)
	}
	n.mu.RUnlock()
	return &parley.Reply{Rooms: out}, nil
}

// presence lists who is in a room the session is in, on every node.
func (n *Node) presence(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	r, err := n.joined(s, c.Room)
	if err != nil {
		return nil, err
	}
	n.mu.RLock()
	members, count := n.membersLocked(r.name, true)
	n.mu.RUnlock()
	return &parley.Reply{Room: r.name, Members: members, Count: count}, nil
}

// presenceChanged tells the cluster that a user's first session here came
// into a room or its last one left; the sessions here hear of it only if
// the user is not in the room on another node (elsewhere).
func (n *Node) presenceChanged(ctx context.Context, ev *parley.Event, elsewhere bool) {
	if elsewhere {
		n.broadcast(ctx, ev)
		return
	}
	n.publish(ctx, ev)
}

// joined returns the room named by name if the session is in it.
func (n *Node) joined(s *Session, name string) (*room, error) {
	key, err := roomName(name)
	if err != nil {
		return nil, err
	}
	r := s.room(key)
	if r == nil {
		return nil, parley.Errorf(parley.ENotJoined, "join %s first", key)
	}
	return r, nil
}

func roomName(name string) (string, error) {
	if !parley.ValidRoom(name) {
		return "", parley.Errorf(parley.EInvalid,
			"a room name is 1–%d letters, digits, '_', '-' or '.'", parley.MaxRoomLen)
	}
	return parley.RoomKey(name), nil
}

// conversations lists the direct conversations of the session's user.
func (n *Node) conversations(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	convs, err := n.store.DirectConversations(ctx, s.nick)
	if err != nil {
		return nil, err
	}
	out := make([]parley.RoomInfo, 0, len(convs))
	for _, r := range convs {
		a, b, _ := parley.DMParties(r.Name)
		with := a
		if a == s.key {
			with = b
		}
		if u, err := n.store.UserByNickname(ctx, with); err == nil {
			with = u.Nickname // as the person writes it
		}
		out = append(out, parley.RoomInfo{Name: r.Name, LastSeq: r.LastSeq, With: with})
	}
	return &parley.Reply{Rooms: out}, nil
}
