package parley

import "time"

// Message is one chat message, in a room or in a direct conversation.
//
// The engine fills From, To, Text, HTML, Mentions, ClientID and CreatedAt;
// Store.Append assigns ID and Seq. A Message is never changed after it is
// stored, so it may be shared between goroutines.
type Message struct {
	ID       int64  // unique on the server, increasing in the order of storage
	Room     string // a room name, or a direct conversation key (see DMKey)
	Seq      int64  // position in Room: 1, 2, 3, … without gaps
	From     string // the sender's nickname, taken from the session, never from a frame
	To       string // for a direct message, the recipient's nickname; "" in a room
	Text     string // what the sender typed (markdown source)
	HTML     string // Text rendered to safe HTML
	Mentions []string
	// ClientID is the sender's idempotency key: a second Append with the same
	// From and ClientID returns the first message instead of storing another.
	ClientID  string
	CreatedAt time.Time
	// Deleted marks a tombstone: a moderator deleted the message for
	// everyone; Text, HTML and Mentions are empty, ID, Room, Seq, From and
	// CreatedAt stay so that history keeps its place.
	Deleted   bool
	DeletedBy string
}

// IsDirect reports whether m is a direct (one-to-one) message.
func (m *Message) IsDirect() bool { return IsDMKey(m.Room) }

// Room is a chat room as listed to clients.
type Room struct {
	Name      string
	LastSeq   int64 // Seq of the newest message, 0 if none
	CreatedAt time.Time
	// SlowMode is the least time between two messages of one person in
	// the room (0: none); moderators are exempt.
	SlowMode time.Duration
}

// Lobby is the room that always exists.
const Lobby = "lobby"

// User is a nickname known to the server. A nickname is held by the session
// token that claimed it (see Store.ClaimNickname).
type User struct {
	Nickname  string
	ClaimedAt time.Time // when the current holder claimed it; older DMs are not theirs
	LastSeen  time.Time
	// DMCursor is the ID of the newest direct message delivered to the user;
	// direct messages with a larger ID wait for their next login.
	DMCursor int64
	// Registered: the nickname has a password and is its owner's for good
	// (never released after NickHold).
	Registered bool
	Role       Role   // RoleUser for guests
	LastIP     string // the address of the user's last hello, for bans by IP; never sent to clients
}

// Announcement is a site-wide notice from an administrator.
type Announcement struct {
	ID        int64
	Text      string
	HTML      string
	CreatedAt time.Time
	StartsAt  time.Time // shown from then on (never before CreatedAt)
	ExpiresAt time.Time // the announcement is active until then
	By        string    // the actor who wrote it
}

// EventKind names what an Event says.
type EventKind string

// The kinds of Event.
const (
	// EventMessage carries a stored Message: to the room's members, or for a
	// direct message to its two people; mentioned users also get a mention.
	EventMessage EventKind = "message"
	// EventJoined and EventLeft say that Nickname came into or left Room.
	EventJoined EventKind = "joined"
	EventLeft   EventKind = "left"
	// EventTyping says that Nickname is typing in Room (a room or a DM key).
	EventTyping EventKind = "typing"
	// EventAnnouncement carries an Announcement to everyone connected.
	EventAnnouncement EventKind = "announcement"
	// EventDeleted carries the tombstone of a message a moderator deleted
	// (Message, with Deleted set) to the room's members.
	EventDeleted EventKind = "message.deleted"
	// EventAnnouncementDeleted says the announcement with
	// Announcement.ID was withdrawn; clients stop showing it.
	EventAnnouncementDeleted EventKind = "announcement.deleted"
	// EventRoomSettings carries Room's Settings (slow mode) to its members.
	EventRoomSettings EventKind = "room.settings"
	// EventMuted and EventUnmuted tell Nickname (and every node) that Mute
	// now holds, or no longer holds, in Room.
	EventMuted   EventKind = "muted"
	EventUnmuted EventKind = "unmuted"
	// EventRole tells every node, and Nickname's sessions, that Nickname's
	// role is now Role.
	EventRole EventKind = "role"
	// EventKick ends every session of Nickname, with Reason.
	EventKick EventKind = "kick"
	// EventBan ends every session the Ban matches; nodes also refresh what
	// they know of bans. EventUnban only refreshes it. Nodes only.
	EventBan   EventKind = "node.ban"
	EventUnban EventKind = "node.unban"
	// EventMention is derived by the receiving node from an EventMessage for
	// each mentioned user; it is never published.
	EventMention EventKind = "mention"

	// EventHeartbeat says that Node is alive; with Presence, it also says
	// who is connected to it and in which rooms (a snapshot that replaces
	// what other nodes knew of it). Nodes only: never sent to clients.
	EventHeartbeat EventKind = "node.heartbeat"
	// EventNodeGone says that Node is shutting down: its people are gone.
	// Nodes only.
	EventNodeGone EventKind = "node.gone"
)

// NodePresence is one node's people: who is connected to it, and who is in
// which of its rooms.
type NodePresence struct {
	Users []string            // nicknames with a connection to the node
	Rooms map[string][]string // room → nicknames in it on the node
	// Ask: the node wants every other node's presence in their next
	// heartbeat (it just started, or was cut off from the broker).
	Ask bool
}

// Event is something that happened, published through the Broker to every
// node and delivered by each node to its own connections. Events are shared
// between goroutines and must not be changed after publishing.
type Event struct {
	Kind         EventKind
	Node         string // the node that published it
	Room         string
	Nickname     string
	Message      *Message
	Announcement *Announcement
	Presence     *NodePresence // with EventHeartbeat
	Reason       string        // EventKick: why, for the person kicked
	Role         Role          // EventRole
	Ban          *Ban          // EventBan, EventUnban
	Mute         *Mute         // EventMuted, EventUnmuted
	Settings     *RoomSettings // EventRoomSettings
}

// RoomSettings are a room's rules that moderators set.
type RoomSettings struct {
	SlowMode time.Duration // 0: none
}
