package parley

import "time"

// Op names a command a client can give. Every transport decodes its own
// wire format into a Command with one of these and hands it to the engine.
type Op string

// The commands.
const (
	OpHello    Op = "hello"    // pick a nickname, or come back with a session token
	OpJoin     Op = "join"     // enter a room (created on first join)
	OpLeave    Op = "leave"    // leave a room
	OpRooms    Op = "rooms"    // list rooms with member counts
	OpSend     Op = "send"     // post to a room
	OpDirect   Op = "dm"       // send a direct message to a nickname
	OpHistory  Op = "history"  // read a page of a room's or a direct conversation's messages
	OpPresence Op = "presence" // list who is in a room
	OpTyping   Op = "typing"   // say "I am typing" to a room or a person; never stored
	// OpConversations lists the direct conversations of the session's user.
	OpConversations Op = "conversations"
	// OpResume comes back to a room or direct conversation after a
	// reconnect: joins the room if needed, answers with the messages after
	// a sequence number, then goes on live with no gap and no duplicate.
	OpResume Op = "resume"
)

// Command is one request from a client. Which fields count depends on Op
// (see docs/PROTOCOL.md); the sender is never a field: it is the session.
type Command struct {
	Op       Op
	Ref      string // the client's reference, echoed in the reply
	Nickname string // hello
	Token    string // hello: a session token from an earlier welcome
	Room     string // join, leave, send, history, presence, typing
	To       string // dm, typing; history of a direct conversation ("with")
	Text     string // send, dm
	ClientID string // send, dm: the sender's idempotency key
	Before   int64  // history: only messages with Seq < Before (0: newest)
	After    int64  // history, resume: only messages with Seq > After, oldest first; wins over Before
	Limit    int    // history: page size (0: the default)
}

// Reply answers a Command that succeeded. Which fields are set depends on
// Op, as for Command.
type Reply struct {
	Op        Op
	Ref       string
	Nickname  string        // hello
	Token     string        // hello: "" when the session came in with the page's login cookie (the page never sees it)
	Role      Role          // hello: the user's role
	Reg       bool          // hello: the nickname is registered (has a password)
	SlowMode  time.Duration // join: the room's slow mode (0: none)
	Room      string        // join, leave, history, presence
	Members   []string      // join, presence: nicknames in the room; join leaves it nil above the presence limit (ask presence)
	Count     int           // join, presence: people in the room
	LastSeq   int64         // join: Seq of the room's newest message
	Message   *Message      // send, dm: the stored message
	Duplicate bool          // send, dm: the ClientID was seen before; Message is the original
	Messages  []Message     // history, oldest first
	HasMore   bool          // history: older messages exist (with After: newer ones)
	Reset     bool          // resume: After is not in the room's history (older than what is kept, or newer than the newest); Messages is the newest page
	Rooms     []RoomInfo    // rooms; for conversations, Name is the conversation key and With the other person
}

// RoomInfo is a room as listed by OpRooms.
type RoomInfo struct {
	Name    string
	Members int    // people online in the room
	LastSeq int64  // Seq of the newest message
	With    string // for a direct conversation: the other person's nickname
}
