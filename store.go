package parley

import (
	"context"
	"time"
)

// Store keeps rooms, messages, users and announcements. Implementations are
// safe for concurrent use and translate their driver's errors into *Error
// codes (ENotFound, ENicknameTaken, EUnavailable); anything else is EInternal.
type Store interface {
	// Append stores m in m.Room, assigning ID and the room's next Seq, and
	// returns the stored message. The room is created if it does not exist.
	// If m.ClientID is not empty and a message with the same From (by
	// NickKey) and ClientID is already stored, Append stores nothing and
	// returns that message with dup true. When Append returns without error
	// the message is durable (it survives a crash of the process).
	Append(ctx context.Context, m Message) (stored Message, dup bool, err error)

	// History returns up to limit messages of room with Seq < before, oldest
	// first; before <= 0 means the newest messages. A room with no messages,
	// or one that does not exist, returns an empty slice.
	History(ctx context.Context, room string, before int64, limit int) ([]Message, error)

	// After returns up to limit messages of room with Seq > after, oldest
	// first.
	After(ctx context.Context, room string, after int64, limit int) ([]Message, error)

	// EnsureRoom creates the room name if it does not exist and returns it.
	EnsureRoom(ctx context.Context, name string) (Room, error)

	// Rooms returns every room (direct conversations excluded), by name.
	Rooms(ctx context.Context) ([]Room, error)

	// ClaimNickname gives nick to the holder of tokenHash. It succeeds if
	// nobody holds nick, or if its holder was last seen before releaseBefore
	// (the caller has checked that nobody holding it is online): then the
	// user's ClaimedAt becomes now and its DMCursor the newest message ID, so
	// the new holder never sees the old holder's direct messages. Otherwise
	// it returns ENicknameTaken. Nicknames compare by NickKey.
	ClaimNickname(ctx context.Context, nick, tokenHash string, now, releaseBefore time.Time) (User, error)

	// UserByToken returns the user held by tokenHash, or ENotFound.
	UserByToken(ctx context.Context, tokenHash string) (User, error)

	// UserByNickname returns the user with nick (by NickKey), or ENotFound.
	UserByNickname(ctx context.Context, nick string) (User, error)

	// TouchUser records that nick was seen at seen and that direct messages
	// up to dmCursor were delivered; DMCursor never moves backwards.
	TouchUser(ctx context.Context, nick string, seen time.Time, dmCursor int64) error

	// DirectConversations returns the direct conversations nick is one of
	// the two people of (by NickKey), by name.
	DirectConversations(ctx context.Context, nick string) ([]Room, error)

	// DirectSince returns up to limit direct messages sent to nick (To, by
	// NickKey) with ID > afterID, oldest first.
	DirectSince(ctx context.Context, nick string, afterID int64, limit int) ([]Message, error)

	// AddAnnouncement stores a, assigning its ID.
	AddAnnouncement(ctx context.Context, a Announcement) (Announcement, error)

	// ActiveAnnouncements returns the announcements with ExpiresAt after
	// now, oldest first.
	ActiveAnnouncements(ctx context.Context, now time.Time) ([]Announcement, error)

	// Close waits for pending writes to finish and releases the store.
	Close() error
}
