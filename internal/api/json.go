package api

import (
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/node"
)

// Request bodies. `doc` tags describe fields in the OpenAPI document;
// `api:"required"` marks the fields that must be given (decode.go).

type registerRequest struct {
	Nickname string `json:"nickname" api:"required" doc:"the nickname to register"`
	Password string `json:"password" api:"required" doc:"8–256 characters, not the nickname"`
	Token    string `json:"token,omitempty" doc:"the guest token of whoever holds the nickname now (from the WebSocket welcome)"`
}

type loginRequest struct {
	Nickname string `json:"nickname" api:"required"`
	Password string `json:"password" api:"required"`
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password" api:"required"`
	NewPassword     string `json:"new_password" api:"required" doc:"8–256 characters, not the nickname"`
}

type postRequest struct {
	Text     string `json:"text" api:"required" doc:"markdown"`
	ClientID string `json:"client_id,omitempty" doc:"idempotency key, at most 64 characters"`
}

type slowModeRequest struct {
	Seconds *int `json:"seconds" api:"required" doc:"0 (off) to 3600"`
}

type muteRequest struct {
	Nickname string `json:"nickname" api:"required"`
	Duration string `json:"duration,omitempty" doc:"a Go duration (\"10m\", \"1h\"); empty: until lifted"`
	Reason   string `json:"reason,omitempty"`
}

type roleRequest struct {
	Role *string `json:"role" api:"required" doc:"\"admin\", \"moderator\" or \"\" (none)"`
}

type kickRequest struct {
	Nickname string `json:"nickname" api:"required"`
	Reason   string `json:"reason,omitempty"`
}

type banRequest struct {
	Kind     string `json:"kind" api:"required" doc:"account, nickname or ip"`
	Target   string `json:"target" api:"required" doc:"a nickname; for ip also an address or a prefix (203.0.113.0/24)"`
	Reason   string `json:"reason,omitempty"`
	Duration string `json:"duration,omitempty" doc:"a Go duration (\"24h\"); empty: until lifted"`
}

type announceRequest struct {
	Text     string `json:"text" api:"required" doc:"markdown"`
	TTL      string `json:"ttl,omitempty" doc:"how long it lasts from its start, a Go duration (\"2h\"); empty: until ends_at, else 24h"`
	StartsAt string `json:"starts_at,omitempty" doc:"RFC 3339; empty: now"`
	EndsAt   string `json:"ends_at,omitempty" doc:"RFC 3339; used when ttl is empty"`
}

type keyRequest struct {
	Name string `json:"name" api:"required" doc:"a valid nickname: the key posts under it"`
}

// Answers. Times are RFC 3339 in UTC; an optional time is absent when
// there is none.

type loginReply struct {
	Nickname   string      `json:"nickname"`
	Role       parley.Role `json:"role" doc:"\"admin\", \"moderator\" or \"\""`
	Registered bool        `json:"registered"`
	Token      string      `json:"token" doc:"the session token, also set as the cookie; a bearer credential for the API"`
	ExpiresAt  time.Time   `json:"expires_at"`
}

type meReply struct {
	Nickname   string      `json:"nickname" doc:"the user, or for an API key \"key:<name>\", for the admin token \"operator\""`
	Role       parley.Role `json:"role"`
	Registered bool        `json:"registered"`
	Via        string      `json:"via" doc:"session, api_key or admin_token"`
}

type roomJSON struct {
	Name      string    `json:"name"`
	Members   *int      `json:"members,omitempty" doc:"people in the room now, on every node (in lists)"`
	LastSeq   int64     `json:"last_seq"`
	SlowModeS int       `json:"slow_mode_s" doc:"seconds between two messages of one person; 0: off"`
	CreatedAt time.Time `json:"created_at"`
}

type roomsReply struct {
	Rooms []roomJSON `json:"rooms"`
}

type messageJSON struct {
	ID        int64     `json:"id"`
	Room      string    `json:"room"`
	Seq       int64     `json:"seq"`
	From      string    `json:"from"`
	Text      string    `json:"text"`
	HTML      string    `json:"html"`
	Mentions  []string  `json:"mentions"`
	ClientID  string    `json:"client_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Deleted   bool      `json:"deleted,omitempty" doc:"a tombstone: a moderator deleted it (text and html are empty)"`
	DeletedBy string    `json:"deleted_by,omitempty"`
}

type messagesReply struct {
	Messages []messageJSON `json:"messages"`
	HasMore  bool          `json:"has_more"`
}

type postReply struct {
	Message   messageJSON `json:"message"`
	Duplicate bool        `json:"duplicate" doc:"the client_id was seen before: message is the first one"`
}

type messageReply struct {
	Message messageJSON `json:"message"`
}

type userJSON struct {
	Nickname   string      `json:"nickname"`
	Online     *bool       `json:"online,omitempty" doc:"connected to some node now (in lists)"`
	Registered bool        `json:"registered"`
	Role       parley.Role `json:"role"`
	LastSeen   time.Time   `json:"last_seen"`
}

type usersReply struct {
	Users []userJSON `json:"users"`
}

type banJSON struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	Value     string     `json:"value" doc:"what it matches: a nickname, or an address or prefix (shown to admins only)"`
	Nickname  string     `json:"nickname" doc:"who it was made for"`
	Reason    string     `json:"reason"`
	By        string     `json:"by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"absent: until lifted"`
}

type bansReply struct {
	Bans []banJSON `json:"bans"`
}

type muteJSON struct {
	Room      string     `json:"room"`
	Nickname  string     `json:"nickname"`
	Reason    string     `json:"reason"`
	By        string     `json:"by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"absent: until lifted"`
}

type mutesReply struct {
	Mutes []muteJSON `json:"mutes"`
}

type actionJSON struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Kind   string    `json:"kind" doc:"kick, ban, unban, mute, unmute, delete, slow_mode, role, announce, announcement_delete, key_create, key_revoke"`
	Target string    `json:"target"`
	Room   string    `json:"room"`
	Detail string    `json:"detail"`
}

type actionsReply struct {
	Actions []actionJSON `json:"actions"`
}

type announcementJSON struct {
	ID        int64     `json:"id"`
	Text      string    `json:"text"`
	HTML      string    `json:"html"`
	CreatedAt time.Time `json:"created_at"`
	StartsAt  time.Time `json:"starts_at"`
	ExpiresAt time.Time `json:"expires_at"`
	By        string    `json:"by"`
}

type announcementsReply struct {
	Announcements []announcementJSON `json:"announcements"`
}

type keyJSON struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix" doc:"the secret's first characters, to tell keys apart"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty" doc:"absent: in use"`
}

type keysReply struct {
	Keys []keyJSON `json:"keys"`
}

type newKeyReply struct {
	Key    keyJSON `json:"key"`
	Secret string  `json:"secret" doc:"the bearer secret (pk_…), shown this once"`
}

// Conversions from the engine's types.

func utc(t time.Time) time.Time { return t.UTC() }

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func loginOut(l parley.Login) loginReply {
	return loginReply{Nickname: l.User.Nickname, Role: l.User.Role, Registered: l.User.Registered, Token: l.Token, ExpiresAt: utc(l.ExpiresAt)}
}

func roomOut(r parley.Room, members *int) roomJSON {
	return roomJSON{Name: r.Name, Members: members, LastSeq: r.LastSeq, SlowModeS: int(r.SlowMode / time.Second), CreatedAt: utc(r.CreatedAt)}
}

func listingOut(l node.RoomListing) roomJSON {
	n := l.Members
	return roomOut(l.Room, &n)
}

func messageOut(m parley.Message) messageJSON {
	mentions := m.Mentions
	if mentions == nil {
		mentions = []string{}
	}
	return messageJSON{ID: m.ID, Room: m.Room, Seq: m.Seq, From: m.From, Text: m.Text, HTML: m.HTML, Mentions: mentions,
		ClientID: m.ClientID, CreatedAt: utc(m.CreatedAt), Deleted: m.Deleted, DeletedBy: m.DeletedBy}
}

func userOut(u parley.User, online *bool) userJSON {
	return userJSON{Nickname: u.Nickname, Online: online, Registered: u.Registered, Role: u.Role, LastSeen: utc(u.LastSeen)}
}

func banOut(b parley.Ban, showIP bool) banJSON {
	value := b.Value
	if b.Kind == parley.BanIP && !showIP {
		value = ""
	}
	return banJSON{ID: b.ID, Kind: string(b.Kind), Value: value, Nickname: b.Nickname, Reason: b.Reason, By: b.By,
		CreatedAt: utc(b.CreatedAt), ExpiresAt: optTime(b.ExpiresAt)}
}

func muteOut(m parley.Mute) muteJSON {
	return muteJSON{Room: m.Room, Nickname: m.Nickname, Reason: m.Reason, By: m.By, CreatedAt: utc(m.CreatedAt), ExpiresAt: optTime(m.ExpiresAt)}
}

func actionOut(a parley.Action) actionJSON {
	return actionJSON{ID: a.ID, At: utc(a.At), Actor: a.Actor, Kind: string(a.Kind), Target: a.Target, Room: a.Room, Detail: a.Detail}
}

func announcementOut(a parley.Announcement) announcementJSON {
	return announcementJSON{ID: a.ID, Text: a.Text, HTML: a.HTML, CreatedAt: utc(a.CreatedAt), StartsAt: utc(a.StartsAt), ExpiresAt: utc(a.ExpiresAt), By: a.By}
}

func keyOut(k parley.APIKey) keyJSON {
	return keyJSON{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CreatedBy: k.CreatedBy, CreatedAt: utc(k.CreatedAt), RevokedAt: optTime(k.RevokedAt)}
}

// each converts a list.
func each[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
