package node

import (
	"context"
	"fmt"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/parley-chat/parley"
)

// Moderation: every method takes the Actor asking, checks its role
// (moderator or admin unless said otherwise), acts cluster-wide (through
// the broker) and writes the action log.
//
// Moderators cannot act on moderators or admins (kick, ban, mute): only
// admins can; nobody acts on themselves.

// maxReasonChars bounds a moderator's reason.
const maxReasonChars = 500

// Limits on IP ban prefixes: a wider one would lock out a good part of the
// internet by mistake.
const (
	minPrefix4 = 8
	minPrefix6 = 32
)

// maxSlowMode is the longest slow mode.
const maxSlowMode = time.Hour

func checkReason(reason string) error {
	switch {
	case !utf8.ValidString(reason):
		return parley.Errorf(parley.EInvalid, "the reason is not valid UTF-8")
	case utf8.RuneCountInString(reason) > maxReasonChars:
		return parley.Errorf(parley.ETooLarge, "a reason is at most %d characters", maxReasonChars)
	}
	return nil
}

// target looks up the user a moderator acts on and checks by may act on
// them: not themselves, and a moderator not on a moderator or admin.
func (n *Node) target(ctx context.Context, by parley.Actor, nick, what string) (parley.User, error) {
	if !parley.ValidNickname(nick) {
		return parley.User{}, parley.Errorf(parley.EInvalid, "%q is not a valid nickname", nick)
	}
	if parley.NickKey(nick) == parley.NickKey(by.Name) {
		return parley.User{}, parley.Errorf(parley.EForbidden, "you cannot %s yourself", what)
	}
	u, err := n.store.UserByNickname(ctx, nick)
	if parley.ErrorCode(err) == parley.ENotFound {
		return u, parley.Errorf(parley.ENotFound, "nobody is called %s", nick)
	} else if err != nil {
		return u, fmt.Errorf("look up %s: %w", nick, err)
	}
	if u.Registered && u.Role.CanModerate() && !by.Role.IsAdmin() {
		return u, parley.Errorf(parley.EForbidden, "only an admin may %s a moderator or admin", what)
	}
	return u, nil
}

// Kick ends every session of nick, on every node, with EKicked and
// reason. They may come back. A known nickname nobody is online with is
// no error (presence across nodes may lag): nothing is closed.
func (n *Node) Kick(ctx context.Context, by parley.Actor, nick, reason string) error {
	if err := requireModerator(by); err != nil {
		return err
	}
	if err := checkReason(reason); err != nil {
		return err
	}
	u, err := n.target(ctx, by, nick, "kick")
	if err != nil {
		return err
	}
	n.logAction(ctx, by, parley.Action{Kind: parley.ActKick, Target: u.Nickname, Detail: reason})
	msg := withReason("you were kicked by "+by.Name, reason)
	n.publish(ctx, &parley.Event{Kind: parley.EventKick, Nickname: u.Nickname, Reason: msg})
	return nil
}

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
	if err := requireModerator(by); err != nil {
		return parley.Ban{}, err
	}
	if err := checkReason(req.Reason); err != nil {
		return parley.Ban{}, err
	}
	switch {
	case req.For < 0:
		return parley.Ban{}, parley.Errorf(parley.EInvalid, "a ban's duration must not be negative")
	case req.Target == "":
		return parley.Ban{}, parley.Errorf(parley.EMissingField, "missing field: target")
	}
	b := parley.Ban{Kind: req.Kind, Reason: req.Reason, By: by.Name}
	switch req.Kind {
	case parley.BanAccount:
		u, err := n.target(ctx, by, req.Target, "ban")
		if err != nil {
			return parley.Ban{}, err
		}
		b.Value, b.Nickname = parley.NickKey(u.Nickname), u.Nickname
	case parley.BanNickname:
		if !parley.ValidNickname(req.Target) {
			return parley.Ban{}, parley.Errorf(parley.EInvalid, "%q is not a valid nickname", req.Target)
		}
		if _, err := n.target(ctx, by, req.Target, "ban"); err != nil && parley.ErrorCode(err) != parley.ENotFound {
			return parley.Ban{}, err // a nickname nobody has yet may be banned
		}
		b.Value, b.Nickname = parley.NickKey(req.Target), req.Target
	case parley.BanIP:
		value, nick, err := n.banAddress(ctx, by, req.Target)
		if err != nil {
			return parley.Ban{}, err
		}
		b.Value, b.Nickname = value, nick
	default:
		return parley.Ban{}, parley.Errorf(parley.EInvalid, "a ban's kind is %q, %q or %q", parley.BanAccount, parley.BanNickname, parley.BanIP)
	}
	now := n.cfg.Now().UTC()
	b.CreatedAt = now
	if req.For > 0 {
		b.ExpiresAt = now.Add(req.For)
	}
	b, err := n.store.AddBan(ctx, b)
	if err != nil {
		return parley.Ban{}, fmt.Errorf("ban %s %s: %w", req.Kind, req.Target, err)
	}
	detail := string(b.Kind) + " until " + until(b.ExpiresAt)
	n.logAction(ctx, by, parley.Action{Kind: parley.ActBan, Target: banTarget(&b), Detail: withReason(detail, b.Reason)})
	n.publish(ctx, &parley.Event{Kind: parley.EventBan, Ban: &b})
	return b, nil
}

// banTarget is who a ban is about, for the log.
func banTarget(b *parley.Ban) string {
	if b.Nickname != "" {
		return b.Nickname
	}
	return b.Value
}

// banAddress resolves an IP ban's target: an address, a prefix, or a
// nickname whose last address is taken.
func (n *Node) banAddress(ctx context.Context, by parley.Actor, target string) (value, nick string, err error) {
	if a, err := netip.ParseAddr(target); err == nil {
		return a.Unmap().WithZone("").String(), "", nil
	}
	if p, err := netip.ParsePrefix(target); err == nil {
		p = p.Masked()
		if a := p.Addr(); a.Is4In6() {
			p = netip.PrefixFrom(a.Unmap(), max(p.Bits()-96, 0))
		}
		least := minPrefix6
		if p.Addr().Is4() {
			least = minPrefix4
		}
		if p.Bits() < least {
			return "", "", parley.Errorf(parley.EInvalid, "a banned prefix is at least /%d", least)
		}
		return p.String(), "", nil
	}
	u, err := n.target(ctx, by, target, "ban")
	if err != nil {
		if !parley.ValidNickname(target) {
			return "", "", parley.Errorf(parley.EInvalid, "%q is not an address, a prefix or a nickname", target)
		}
		return "", "", err
	}
	if u.LastIP == "" {
		return "", "", parley.Errorf(parley.ENotFound, "no address is known for %s", u.Nickname)
	}
	a, err := netip.ParseAddr(u.LastIP)
	if err != nil {
		return "", "", fmt.Errorf("the last address of %s: %w", u.Nickname, err)
	}
	return a.Unmap().String(), u.Nickname, nil
}

// Unban lifts the ban id.
func (n *Node) Unban(ctx context.Context, by parley.Actor, id int64) (parley.Ban, error) {
	if err := requireModerator(by); err != nil {
		return parley.Ban{}, err
	}
	b, err := n.store.DeleteBan(ctx, id)
	if parley.ErrorCode(err) == parley.ENotFound {
		return b, parley.Errorf(parley.ENotFound, "no ban %d", id)
	} else if err != nil {
		return b, fmt.Errorf("lift ban %d: %w", id, err)
	}
	n.logAction(ctx, by, parley.Action{Kind: parley.ActUnban, Target: banTarget(&b), Detail: fmt.Sprintf("ban %d (%s)", b.ID, b.Kind)})
	n.publish(ctx, &parley.Event{Kind: parley.EventUnban, Ban: &b})
	return b, nil
}

// Bans lists the bans in force.
func (n *Node) Bans(ctx context.Context, by parley.Actor) ([]parley.Ban, error) {
	if err := requireModerator(by); err != nil {
		return nil, err
	}
	bans, err := n.store.Bans(ctx, n.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("list bans: %w", err)
	}
	return bans, nil
}

// Mute keeps nick from posting in room for d (0: until lifted); they are
// told (EventMuted), and their sends there answer EMuted.
func (n *Node) Mute(ctx context.Context, by parley.Actor, room, nick string, d time.Duration, reason string) (parley.Mute, error) {
	if err := requireModerator(by); err != nil {
		return parley.Mute{}, err
	}
	name, err := roomName(room)
	if err != nil {
		return parley.Mute{}, err
	}
	if d < 0 {
		return parley.Mute{}, parley.Errorf(parley.EInvalid, "a mute's duration must not be negative")
	}
	if err := checkReason(reason); err != nil {
		return parley.Mute{}, err
	}
	u, err := n.target(ctx, by, nick, "mute")
	if err != nil {
		return parley.Mute{}, err
	}
	now := n.cfg.Now().UTC()
	m := parley.Mute{Room: name, Nickname: u.Nickname, Reason: reason, By: by.Name, CreatedAt: now}
	if d > 0 {
		m.ExpiresAt = now.Add(d)
	}
	if m, err = n.store.AddMute(ctx, m); err != nil {
		return parley.Mute{}, fmt.Errorf("mute %s in %s: %w", nick, name, err)
	}
	n.logAction(ctx, by, parley.Action{Kind: parley.ActMute, Target: m.Nickname, Room: name, Detail: withReason("until "+until(m.ExpiresAt), reason)})
	n.publish(ctx, &parley.Event{Kind: parley.EventMuted, Room: name, Nickname: m.Nickname, Mute: &m})
	return m, nil
}

// Unmute lifts nick's mute in room.
func (n *Node) Unmute(ctx context.Context, by parley.Actor, room, nick string) error {
	if err := requireModerator(by); err != nil {
		return err
	}
	name, err := roomName(room)
	if err != nil {
		return err
	}
	if !parley.ValidNickname(nick) {
		return parley.Errorf(parley.EInvalid, "%q is not a valid nickname", nick)
	}
	err = n.store.DeleteMute(ctx, name, nick)
	if parley.ErrorCode(err) == parley.ENotFound {
		return parley.Errorf(parley.ENotFound, "%s is not muted in %s", nick, name)
	} else if err != nil {
		return fmt.Errorf("unmute %s in %s: %w", nick, name, err)
	}
	if u, err := n.store.UserByNickname(ctx, nick); err == nil {
		nick = u.Nickname // as they write it
	}
	n.logAction(ctx, by, parley.Action{Kind: parley.ActUnmute, Target: nick, Room: name})
	n.publish(ctx, &parley.Event{Kind: parley.EventUnmuted, Room: name, Nickname: nick, Mute: &parley.Mute{Room: name, Nickname: nick}})
	return nil
}

// Mutes lists the mutes in force in room ("" : every room).
func (n *Node) Mutes(ctx context.Context, by parley.Actor, room string) ([]parley.Mute, error) {
	if err := requireModerator(by); err != nil {
		return nil, err
	}
	name := ""
	if room != "" {
		var err error
		if name, err = roomName(room); err != nil {
			return nil, err
		}
	}
	mutes, err := n.store.Mutes(ctx, n.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("list mutes: %w", err)
	}
	if name == "" {
		return mutes, nil
	}
	out := mutes[:0]
	for _, m := range mutes {
		if parley.RoomKey(m.Room) == name {
			out = append(out, m)
		}
	}
	return out, nil
}

// DeleteMessage replaces message seq of room by a tombstone for everyone:
// the room's members get EventDeleted, history keeps the tombstone.
func (n *Node) DeleteMessage(ctx context.Context, by parley.Actor, room string, seq int64) (parley.Message, error) {
	if err := requireModerator(by); err != nil {
		return parley.Message{}, err
	}
	name, err := roomName(room)
	if err != nil {
		return parley.Message{}, err
	}
	if seq <= 0 {
		return parley.Message{}, parley.Errorf(parley.EInvalid, "seq must be positive")
	}
	m, err := n.store.DeleteMessage(ctx, name, seq, by.Name)
	if parley.ErrorCode(err) == parley.ENotFound {
		return m, parley.Errorf(parley.ENotFound, "no message %d in %s", seq, name)
	} else if err != nil {
		return m, fmt.Errorf("delete message %d of %s: %w", seq, name, err)
	}
	n.logAction(ctx, by, parley.Action{Kind: parley.ActDelete, Target: m.From, Room: name, Detail: fmt.Sprintf("message %d", seq)})
	n.publish(ctx, &parley.Event{Kind: parley.EventDeleted, Room: name, Message: &m})
	return m, nil
}

// SetSlowMode sets the least time between two messages of one person in
// room (0: off; at most 1 hour); members get EventRoomSettings.
func (n *Node) SetSlowMode(ctx context.Context, by parley.Actor, room string, every time.Duration) (parley.Room, error) {
	if err := requireModerator(by); err != nil {
		return parley.Room{}, err
	}
	name, err := roomName(room)
	if err != nil {
		return parley.Room{}, err
	}
	if every < 0 || every > maxSlowMode {
		return parley.Room{}, parley.Errorf(parley.EInvalid, "slow mode is 0 to %d seconds", int(maxSlowMode.Seconds()))
	}
	r, err := n.store.SetSlowMode(ctx, name, every)
	if parley.ErrorCode(err) == parley.ENotFound {
		return r, parley.Errorf(parley.ENotFound, "no room %s", name)
	} else if err != nil {
		return r, fmt.Errorf("set the slow mode of %s: %w", name, err)
	}
	n.logAction(ctx, by, parley.Action{Kind: parley.ActSlowMode, Target: name, Room: name, Detail: every.String()})
	n.publish(ctx, &parley.Event{Kind: parley.EventRoomSettings, Room: name, Settings: &parley.RoomSettings{SlowMode: every}})
	return r, nil
}

// ActionLog returns up to limit entries of the moderation log with ID <
// before (0: the newest), newest first.
func (n *Node) ActionLog(ctx context.Context, by parley.Actor, before int64, limit int) ([]parley.Action, error) {
	if err := requireModerator(by); err != nil {
		return nil, err
	}
	actions, err := n.store.Actions(ctx, before, pageLimit(limit, 100, 1000))
	if err != nil {
		return nil, fmt.Errorf("read the action log: %w", err)
	}
	return actions, nil
}
