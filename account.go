package parley

import (
	"net/netip"
	"time"
)

// Role is what a user may do beyond chatting. Roles belong to registered
// users only; a guest's role is always RoleUser.
type Role string

// The roles, from least to most.
const (
	RoleUser      Role = ""          // chat only
	RoleModerator Role = "moderator" // kick, ban, mute, delete messages, slow mode, read the action log
	RoleAdmin     Role = "admin"     // everything a moderator may, and roles, API keys, announcements
)

// ValidRole reports whether r is one of the roles.
func ValidRole(r Role) bool { return r == RoleUser || r == RoleModerator || r == RoleAdmin }

// CanModerate reports whether r may moderate (moderators and admins).
func (r Role) CanModerate() bool { return r == RoleModerator || r == RoleAdmin }

// IsAdmin reports whether r is RoleAdmin.
func (r Role) IsAdmin() bool { return r == RoleAdmin }

// Actor is whoever asks for something that needs a role: a signed-in
// person, an API key or the server's operator. The engine checks Role; Name
// goes into the action log ("alice", "key:ci-bot", "operator").
type Actor struct {
	Name string
	Role Role
	// Via is how the actor proved who it is: "session" (a login cookie or
	// bearer session token), "api_key", "admin_token" (the --admin-token of
	// the server), "cli" (parley user … on the server's own database).
	Via string
}

// Credentials is what the store keeps to check a registered user's
// password.
type Credentials struct {
	Nickname     string
	PasswordHash string // a PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash); "" for a guest
	Role         Role
}

// AuthSession is a login of a registered user: the store keeps the hash of
// its token, never the token.
type AuthSession struct {
	TokenHash string
	Nickname  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Login is the result of registering, logging in or changing a password:
// the user and a new session token (shown once; the store has its hash).
type Login struct {
	User      User
	Token     string
	ExpiresAt time.Time
}

// BanKind says what a ban matches.
type BanKind string

// The kinds of ban.
const (
	// BanAccount: the registered user (or the guest holding the nickname's
	// token) may not log in or connect, under any nickname, from a
	// connection that carries their session.
	BanAccount BanKind = "account"
	// BanNickname: nobody may use the nickname.
	BanNickname BanKind = "nickname"
	// BanIP: no connection from the address (or CIDR prefix) may say hello.
	BanIP BanKind = "ip"
)

// Ban keeps someone out until ExpiresAt (zero: until lifted).
type Ban struct {
	ID   int64
	Kind BanKind
	// Value is a NickKey (account, nickname) or an address or prefix in
	// netip form (ip: "192.0.2.7", "2001:db8::/48").
	Value string
	// Nickname is who the ban was made for, for people reading the list
	// (for an IP ban made by nickname, the nickname whose address it took).
	Nickname  string
	Reason    string
	By        string // the actor's name
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

// ActiveAt reports whether b is in force at t.
func (b *Ban) ActiveAt(t time.Time) bool { return b.ExpiresAt.IsZero() || t.Before(b.ExpiresAt) }

// MatchesIP reports whether b is an IP ban covering ip.
func (b *Ban) MatchesIP(ip netip.Addr) bool {
	if b.Kind != BanIP || !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	if p, err := netip.ParsePrefix(b.Value); err == nil {
		return p.Contains(ip)
	}
	a, err := netip.ParseAddr(b.Value)
	return err == nil && a.Unmap() == ip
}

// Mute keeps Nickname from posting in Room until ExpiresAt (zero: until
// lifted). A muted person still reads the room.
type Mute struct {
	Room      string
	Nickname  string
	Reason    string
	By        string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

// ActiveAt reports whether m is in force at t.
func (m *Mute) ActiveAt(t time.Time) bool { return m.ExpiresAt.IsZero() || t.Before(m.ExpiresAt) }

// Action is one entry of the moderation log: every moderation and
// administration act, by whom, on whom, when.
type Action struct {
	ID     int64
	At     time.Time
	Actor  string     // Actor.Name
	Kind   ActionKind //
	Target string     // a nickname, an address, a ban or key ID, an announcement ID
	Room   string     // for room actions
	Detail string     // reason, duration, role: free text for people
}

// ActionKind names a logged act.
type ActionKind string

// The logged acts.
const (
	ActKick               ActionKind = "kick"
	ActBan                ActionKind = "ban"
	ActUnban              ActionKind = "unban"
	ActMute               ActionKind = "mute"
	ActUnmute             ActionKind = "unmute"
	ActDelete             ActionKind = "delete"
	ActSlowMode           ActionKind = "slow_mode"
	ActRole               ActionKind = "role"
	ActAnnounce           ActionKind = "announce"
	ActDeleteAnnouncement ActionKind = "announcement_delete"
	ActCreateKey          ActionKind = "key_create"
	ActRevokeKey          ActionKind = "key_revoke"
)

// APIKey lets an integration use the HTTP API. The store keeps the hash of
// the secret; Prefix (its first characters) tells keys apart in lists.
type APIKey struct {
	ID        int64
	Name      string // also the nickname its messages are posted under
	Prefix    string
	Hash      string
	CreatedBy string
	CreatedAt time.Time
	RevokedAt time.Time // zero: in use
}
