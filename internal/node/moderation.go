package node

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
)

// Moderation: every method takes the Actor asking, checks its role
// (moderator or admin unless said otherwise), acts cluster-wide (through
// the broker) and writes the action log.

// Kick ends every session of nick, on every node, with EKicked and
// reason. They may come back.
func (n *Node) Kick(ctx context.Context, by parley.Actor, nick, reason string) error { return errTODO }

// BanRequest asks for a ban.
type BanRequest struct {
	Kind parley.BanKind
	// Target is a nickname (account, nickname), or for BanIP an address, a
	// prefix ("203.0.113.0/24"), or a nickname whose last address is taken.
	Target string
	Reason string
	For    time.Duration // 0: until lifted
}

// Ban stores a ban and ends every session it matches, on every node.
// Moderators cannot ban admins or moderators; nobody can ban themselves.
func (n *Node) Ban(ctx context.Context, by parley.Actor, req BanRequest) (parley.Ban, error) {
	return parley.Ban{}, errTODO
}

// Unban lifts the ban id.
func (n *Node) Unban(ctx context.Context, by parley.Actor, id int64) (parley.Ban, error) {
	return parley.Ban{}, errTODO
}

// Bans lists the bans in force.
func (n *Node) Bans(ctx context.Context, by parley.Actor) ([]parley.Ban, error) { return nil, errTODO }

// Mute keeps nick from posting in room for d (0: until lifted); they are
// told (EventMuted), and their sends there answer EMuted.
func (n *Node) Mute(ctx context.Context, by parley.Actor, room, nick string, d time.Duration, reason string) (parley.Mute, error) {
	return parley.Mute{}, errTODO
}

// Unmute lifts nick's mute in room.
func (n *Node) Unmute(ctx context.Context, by parley.Actor, room, nick string) error { return errTODO }

// Mutes lists the mutes in force in room ("" : every room).
func (n *Node) Mutes(ctx context.Context, by parley.Actor, room string) ([]parley.Mute, error) {
	return nil, errTODO
}

// DeleteMessage replaces message seq of room by a tombstone for everyone:
// the room's members get EventDeleted, history keeps the tombstone.
func (n *Node) DeleteMessage(ctx context.Context, by parley.Actor, room string, seq int64) (parley.Message, error) {
	return parley.Message{}, errTODO
}

// SetSlowMode sets the least time between two messages of one person in
// room (0: off; at most 1 hour); members get EventRoomSettings.
func (n *Node) SetSlowMode(ctx context.Context, by parley.Actor, room string, every time.Duration) (parley.Room, error) {
	return parley.Room{}, errTODO
}

// ActionLog returns up to limit entries of the moderation log with ID <
// before (0: the newest), newest first.
func (n *Node) ActionLog(ctx context.Context, by parley.Actor, before int64, limit int) ([]parley.Action, error) {
	return nil, errTODO
}
