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

	// UserByToken returns the user held by tokenHash (a guest's claim token),
	// or ENotFound.
	UserByToken(ctx context.Context, tokenHash string) (User, error)

	// UserByNickname returns the user with nick (by NickKey), or ENotFound.
	UserByNickname(ctx context.Context, nick string) (User, error)

	// TouchUser records that nick was seen at seen, from ip if ip is not
	// "" (User.LastIP), and that direct messages up to dmCursor were
	// delivered; DMCursor never moves backwards.
	TouchUser(ctx context.Context, nick string, seen time.Time, dmCursor int64, ip string) error

	// DirectConversations returns the direct conversations nick is one of
	// the two people of (by NickKey), by name.
	DirectConversations(ctx context.Context, nick string) ([]Room, error)

	// DirectSince returns up to limit direct messages sent to nick (To, by
	// NickKey) with ID > afterID, oldest first.
	DirectSince(ctx context.Context, nick string, afterID int64, limit int) ([]Message, error)

	// AddAnnouncement stores a, assigning its ID. A zero StartsAt is
	// stored as CreatedAt.
	AddAnnouncement(ctx context.Context, a Announcement) (Announcement, error)

	// ActiveAnnouncements returns the announcements shown at now
	// (StartsAt <= now < ExpiresAt), oldest first.
	ActiveAnnouncements(ctx context.Context, now time.Time) ([]Announcement, error)

	// Announcements returns every announcement not expired at now,
	// scheduled ones included, by StartsAt then ID.
	Announcements(ctx context.Context, now time.Time) ([]Announcement, error)

	// DeleteAnnouncement removes the announcement id and returns it, or
	// ENotFound.
	DeleteAnnouncement(ctx context.Context, id int64) (Announcement, error)

	AccountStore
	ModerationStore

	// Close waits for pending writes to finish and releases the store.
	Close() error
}

// AccountStore keeps registered users, their login sessions, roles and API
// keys. A registered nickname is never released to another holder:
// ClaimNickname answers ENicknameTaken for it whatever its LastSeen.
type AccountStore interface {
	// SetPassword registers nick with passwordHash, creating the user if
	// it does not exist (ClaimedAt and LastSeen now, DMCursor the newest
	// message ID). It also ends the guest claim token (UserByToken no
	// longer finds it): from now on only login sessions hold the nickname.
	// Changing a password is calling it again.
	SetPassword(ctx context.Context, nick, passwordHash string, now time.Time) (User, error)

	// Credentials returns nick's password hash and role, or ENotFound.
	// A guest's PasswordHash is "".
	Credentials(ctx context.Context, nick string) (Credentials, error)

	// SetRole sets the role of the registered user nick; ENotFound if
	// there is none, EInvalid if nick is a guest.
	SetRole(ctx context.Context, nick string, role Role) (User, error)

	// Users returns up to limit users with NickKey > after, by NickKey.
	Users(ctx context.Context, after string, limit int) ([]User, error)

	// AddSession stores a login session.
	AddSession(ctx context.Context, s AuthSession) error

	// SessionUser returns the user of the session tokenHash if it has not
	// expired at now, else ENotFound.
	SessionUser(ctx context.Context, tokenHash string, now time.Time) (User, error)

	// DeleteSession ends the session tokenHash (no error if there is none).
	DeleteSession(ctx context.Context, tokenHash string) error

	// DeleteSessions ends every session of nick except keepTokenHash.
	DeleteSessions(ctx context.Context, nick, keepTokenHash string) error

	// AddAPIKey stores k, assigning its ID.
	AddAPIKey(ctx context.Context, k APIKey) (APIKey, error)

	// APIKeys returns every key, revoked ones included, by ID.
	APIKeys(ctx context.Context) ([]APIKey, error)

	// APIKeyByHash returns the key with hash (revoked or not), or ENotFound.
	APIKeyByHash(ctx context.Context, hash string) (APIKey, error)

	// RevokeAPIKey marks the key id revoked at at (once: a second revoke
	// keeps the first time) and returns it, or ENotFound.
	RevokeAPIKey(ctx context.Context, id int64, at time.Time) (APIKey, error)
}

// ModerationStore keeps bans, mutes, room settings, tombstones and the
// action log.
type ModerationStore interface {
	// AddBan stores b, assigning its ID.
	AddBan(ctx context.Context, b Ban) (Ban, error)

	// DeleteBan lifts the ban id and returns it, or ENotFound.
	DeleteBan(ctx context.Context, id int64) (Ban, error)

	// Bans returns the bans in force at now, by ID.
	Bans(ctx context.Context, now time.Time) ([]Ban, error)

	// AddMute stores m, replacing any mute of the same person (by
	// NickKey) in the same room.
	AddMute(ctx context.Context, m Mute) (Mute, error)

	// DeleteMute lifts the mute of nick in room, or returns ENotFound.
	DeleteMute(ctx context.Context, room, nick string) error

	// Mutes returns the mutes in force at now in every room, by room then
	// NickKey.
	Mutes(ctx context.Context, now time.Time) ([]Mute, error)

	// SetSlowMode sets room's slow mode (0: off) and returns the room, or
	// ENotFound if the room does not exist.
	SetSlowMode(ctx context.Context, room string, every time.Duration) (Room, error)

	// DeleteMessage replaces the message seq of room by its tombstone
	// (Deleted, DeletedBy by, Text, HTML and Mentions empty) and returns
	// it; History and After return the tombstone in its place. Deleting a
	// tombstone again returns it unchanged. ENotFound if there is no such
	// message.
	DeleteMessage(ctx context.Context, room string, seq int64, by string) (Message, error)

	// LogAction appends a to the action log, assigning its ID.
	LogAction(ctx context.Context, a Action) (Action, error)

	// Actions returns up to limit log entries with ID < before (before <=
	// 0: the newest), newest first.
	Actions(ctx context.Context, before int64, limit int) ([]Action, error)
}
