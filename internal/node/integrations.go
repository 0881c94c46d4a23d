package node

import (
	"context"
	"fmt"
	"strings"

	"github.com/parley-chat/parley"
)

// Integrations: what the HTTP API offers besides moderation.

// Post stores text in room as by.Name and delivers it as any message
// (created if needed; the rules of the room hold for people, not for API
// keys and the operator). clientID makes a retry safe, as for send.
// Any authenticated actor; a person posts under their own nickname.
func (n *Node) Post(ctx context.Context, by parley.Actor, room, text, clientID string) (parley.Message, bool, error) {
	if err := requireActor(by); err != nil {
		return parley.Message{}, false, err
	}
	from := strings.TrimPrefix(by.Name, "key:")
	if !parley.ValidNickname(from) {
		return parley.Message{}, false, parley.Errorf(parley.EInvalid, "%q cannot post: not a valid nickname", by.Name)
	}
	name, err := roomName(room)
	if err != nil {
		return parley.Message{}, false, err
	}
	if err := n.checkText(text); err != nil {
		return parley.Message{}, false, err
	}
	if len(clientID) > maxClientIDLen {
		return parley.Message{}, false, parley.Errorf(parley.EInvalid, "client_id is longer than %d bytes", maxClientIDLen)
	}
	now := n.cfg.Now()
	if isPerson(by) {
		if err := n.roomRules(ctx, name, parley.NickKey(from), by.Role, now); err != nil {
			return parley.Message{}, false, err
		}
	}
	if _, err := n.store.EnsureRoom(ctx, name); err != nil {
		return parley.Message{}, false, fmt.Errorf("post to %s: %w", name, err)
	}
	m := parley.Message{Room: name, From: from, Text: text, ClientID: clientID, CreatedAt: now.UTC()}
	m.HTML, m.Mentions = n.render.Render(text)
	stored, dup, err := n.store.Append(ctx, m)
	if err != nil {
		return parley.Message{}, false, fmt.Errorf("post to %s: %w", name, err)
	}
	n.published(ctx, stored, dup)
	return stored, dup, nil
}

// RoomHistory returns a page of room's messages as the history command
// does (after > 0 wins over before), and whether there are more.
func (n *Node) RoomHistory(ctx context.Context, by parley.Actor, room string, before, after int64, limit int) ([]parley.Message, bool, error) {
	if err := requireActor(by); err != nil {
		return nil, false, err
	}
	name, err := roomName(room)
	if err != nil {
		return nil, false, err
	}
	return n.page(ctx, name, before, after, limit)
}

// RoomList lists the rooms with their members online (cluster-wide) and
// settings.
func (n *Node) RoomList(ctx context.Context, by parley.Actor) ([]RoomListing, error) {
	if err := requireActor(by); err != nil {
		return nil, err
	}
	rooms, err := n.store.Rooms(ctx)
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	out := make([]RoomListing, len(rooms))
	n.mu.RLock()
	for i, r := range rooms {
		out[i].Room = r
		_, out[i].Members = n.membersLocked(r.Name, false)
	}
	n.mu.RUnlock()
	return out, nil
}

// RoomListing is a room as the API lists it.
type RoomListing struct {
	parley.Room
	Members int // people in it now, on every node
}

// isPerson reports whether by is a person (the rules of rooms hold for
// them), not an API key or the server's operator.
func isPerson(by parley.Actor) bool {
	switch by.Via {
	case "api_key", "admin_token", "cli":
		return false
	}
	return true
}
