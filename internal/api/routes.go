package api

import (
	"net/http"
	"reflect"
)

// access is who may call a route.
type access int

const (
	public    access = iota // anyone; credentials are not looked at
	optional                // anyone; credentials, if given, are checked and may widen the answer
	anyCred                 // any valid credential: a login session, an API key, the admin token
	session                 // a login session (cookie or bearer session token)
	moderator               // a moderator or an admin (API keys and the admin token act as admins)
	admin                   // an admin
)

func (a access) String() string {
	return [...]string{"anyone", "anyone (admins see more)", "any credential", "a login session", "moderators and admins", "admins"}[a]
}

// route is one operation of the API: the router and the OpenAPI document
// are both built from the table in routes().
type route struct {
	Method, Path string
	Who          access
	Tag          string
	Summary      string
	Doc          string
	Query        []param
	Body         reflect.Type // the request body's struct type; nil: none
	Example      any          // an example request body (the OpenAPI test posts it)
	Status       int          // the status of success
	Reply        reflect.Type // the success body's type; nil: no body (204)
	Errors       []int        // the error statuses the operation documents besides the usual
	handle       handlerFunc
}

// param is a query parameter.
type param struct {
	Name, Type, Doc string // Type: "integer", "string" or "boolean"
}

// typeOf is reflect.TypeFor, shorter in the table.
func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// routes is the API. Keep it the only list of endpoints.
func (h *Handler) routes() []route {
	idem := "an idempotency key: a retry with the same client_id returns the first message with duplicate true"
	return []route{
		{Method: "POST", Path: "/api/auth/register", Who: public, Tag: "auth", Summary: "Register a nickname with a password and log in",
			Doc:  "The nickname must be free to claim, or `token` must be the guest token of whoever holds it now (from the WebSocket welcome). Passwords are 8–256 characters and not the nickname. Sets the session cookie.",
			Body: typeOf[registerRequest](), Example: map[string]any{"nickname": "alice", "password": "correct horse battery", "token": ""},
			Status: 201, Reply: typeOf[loginReply](), Errors: []int{409, 429}, handle: h.register},
		{Method: "POST", Path: "/api/auth/login", Who: public, Tag: "auth", Summary: "Log in with nickname and password",
			Doc:  "A wrong nickname or password answers 401 with the same message. Per client address at most 10 failures per 10 minutes, per nickname 5 per 15 minutes, then 429 with Retry-After. Sets the session cookie.",
			Body: typeOf[loginRequest](), Example: map[string]any{"nickname": "alice", "password": "correct horse battery"},
			Status: 200, Reply: typeOf[loginReply](), Errors: []int{401, 429}, handle: h.login},
		{Method: "POST", Path: "/api/auth/logout", Who: optional, Tag: "auth", Summary: "End the login session",
			Doc:    "Ends the session of the cookie or bearer session token and clears the cookie. Connections stay open.",
			Status: 204, handle: h.logout},
		{Method: "POST", Path: "/api/auth/password", Who: session, Tag: "auth", Summary: "Change the password",
			Doc:  "Every other login session of the user ends, and their connections that came in with them are closed. Answers a new login (and cookie) replacing this one.",
			Body: typeOf[passwordRequest](), Example: map[string]any{"current_password": "correct horse battery", "new_password": "another long secret"},
			Status: 200, Reply: typeOf[loginReply](), handle: h.password},
		{Method: "GET", Path: "/api/auth/me", Who: anyCred, Tag: "auth", Summary: "Who the credential belongs to",
			Status: 200, Reply: typeOf[meReply](), handle: h.me},

		{Method: "GET", Path: "/api/rooms", Who: anyCred, Tag: "rooms", Summary: "List the rooms",
			Status: 200, Reply: typeOf[roomsReply](), handle: h.rooms},
		{Method: "GET", Path: "/api/rooms/{room}/messages", Who: anyCred, Tag: "rooms", Summary: "Read a page of a room's messages",
			Doc: "Oldest first. With `after`, the messages after that sequence number; else the newest before `before` (0: the newest).",
			Query: []param{{"before", "integer", "only messages with seq < before"}, {"after", "integer", "only messages with seq > after (wins over before)"},
				{"limit", "integer", "page size (default 50, at most the server's limit)"}},
			Status: 200, Reply: typeOf[messagesReply](), handle: h.history},
		{Method: "POST", Path: "/api/rooms/{room}/messages", Who: anyCred, Tag: "rooms", Summary: "Post a message",
			Doc:  "Posts under the credential's name (an API key posts as its name). The room is created if needed. `client_id` is " + idem + ".",
			Body: typeOf[postRequest](), Example: map[string]any{"text": "Build **#412** passed", "client_id": "build-412"},
			Status: 201, Reply: typeOf[postReply](), Errors: []int{413, 429}, handle: h.post},
		{Method: "DELETE", Path: "/api/rooms/{room}/messages/{seq}", Who: moderator, Tag: "moderation", Summary: "Delete a message for everyone",
			Doc:    "Replaces the message by a tombstone; the room's members get message.deleted.",
			Status: 200, Reply: typeOf[messageReply](), handle: h.deleteMessage},
		{Method: "PUT", Path: "/api/rooms/{room}/slow-mode", Who: moderator, Tag: "moderation", Summary: "Set a room's slow mode",
			Doc:  "The least time between two messages of one person (0: off, at most 3600). Moderators and admins are exempt.",
			Body: typeOf[slowModeRequest](), Example: map[string]any{"seconds": 10},
			Status: 200, Reply: typeOf[roomJSON](), handle: h.slowMode},
		{Method: "GET", Path: "/api/rooms/{room}/mutes", Who: moderator, Tag: "moderation", Summary: "List the mutes in force in a room",
			Status: 200, Reply: typeOf[mutesReply](), handle: h.mutes},
		{Method: "POST", Path: "/api/rooms/{room}/mutes", Who: moderator, Tag: "moderation", Summary: "Mute someone in a room",
			Doc:  "They still read the room; their sends answer muted. `duration` is a Go duration (\"10m\", \"1h\"); empty: until lifted.",
			Body: typeOf[muteRequest](), Example: map[string]any{"nickname": "bob", "duration": "10m", "reason": "calm down"},
			Status: 201, Reply: typeOf[muteJSON](), handle: h.mute},
		{Method: "DELETE", Path: "/api/rooms/{room}/mutes/{nickname}", Who: moderator, Tag: "moderation", Summary: "Lift a mute",
			Status: 204, handle: h.unmute},

		{Method: "GET", Path: "/api/users", Who: anyCred, Tag: "users", Summary: "List users",
			Doc:    "By nickname (case-insensitive), a page at a time: pass the last nickname of a page as `after` for the next.",
			Query:  []param{{"after", "string", "only nicknames after this one"}, {"limit", "integer", "page size (default 100, at most 1000)"}},
			Status: 200, Reply: typeOf[usersReply](), handle: h.users},
		{Method: "PUT", Path: "/api/users/{nickname}/role", Who: admin, Tag: "admin", Summary: "Set a registered user's role",
			Doc:  "`role` is \"admin\", \"moderator\" or \"\" (none). An admin cannot take their own admin role.",
			Body: typeOf[roleRequest](), Example: map[string]any{"role": "moderator"},
			Status: 200, Reply: typeOf[userJSON](), handle: h.setRole},

		{Method: "POST", Path: "/api/moderation/kick", Who: moderator, Tag: "moderation", Summary: "Disconnect every session of a nickname",
			Doc:  "They are told who kicked them and why, and may reconnect at once.",
			Body: typeOf[kickRequest](), Example: map[string]any{"nickname": "bob", "reason": "spam"},
			Status: 204, handle: h.kick},
		{Method: "GET", Path: "/api/moderation/bans", Who: moderator, Tag: "moderation", Summary: "List the bans in force",
			Doc:    "The address of an ip ban is shown to admins only.",
			Status: 200, Reply: typeOf[bansReply](), handle: h.bans},
		{Method: "POST", Path: "/api/moderation/bans", Who: moderator, Tag: "moderation", Summary: "Ban an account, a nickname or an address",
			Doc:  "`kind` account: the registered user (or the guest holding the nickname), under any nickname; nickname: nobody may use it; ip: `target` is an address, a prefix or a nickname whose last address is taken. `duration` is a Go duration; empty: until lifted. Matching sessions are closed at once. Moderators cannot ban moderators or admins.",
			Body: typeOf[banRequest](), Example: map[string]any{"kind": "nickname", "target": "spammer", "reason": "spam", "duration": "24h"},
			Status: 201, Reply: typeOf[banJSON](), handle: h.ban},
		{Method: "DELETE", Path: "/api/moderation/bans/{id}", Who: moderator, Tag: "moderation", Summary: "Lift a ban",
			Status: 204, handle: h.unban},
		{Method: "GET", Path: "/api/moderation/log", Who: moderator, Tag: "moderation", Summary: "Read the action log",
			Doc:    "Newest first; pass the last id of a page as `before` for the next.",
			Query:  []param{{"before", "integer", "only entries with id < before"}, {"limit", "integer", "page size (default 50)"}},
			Status: 200, Reply: typeOf[actionsReply](), handle: h.actionLog},

		{Method: "GET", Path: "/api/announcements", Who: optional, Tag: "announcements", Summary: "List announcements",
			Doc:    "The active ones; with all=true (admins), also the scheduled ones.",
			Query:  []param{{"all", "boolean", "also the scheduled announcements (admins only)"}},
			Status: 200, Reply: typeOf[announcementsReply](), handle: h.announcements},
		{Method: "POST", Path: "/api/announcements", Who: admin, Tag: "announcements", Summary: "Publish or schedule an announcement",
			Doc:  "`text` is markdown. It starts at `starts_at` (RFC 3339; default now) and lasts `ttl` (a Go duration), else until `ends_at`, else 24 hours.",
			Body: typeOf[announceRequest](), Example: map[string]any{"text": "Maintenance at **noon**", "ttl": "2h"},
			Status: 201, Reply: typeOf[announcementJSON](), Errors: []int{413}, handle: h.announce},
		{Method: "DELETE", Path: "/api/announcements/{id}", Who: admin, Tag: "announcements", Summary: "Withdraw an announcement",
			Status: 204, handle: h.deleteAnnouncement},

		{Method: "GET", Path: "/api/keys", Who: admin, Tag: "admin", Summary: "List API keys",
			Status: 200, Reply: typeOf[keysReply](), handle: h.keys},
		{Method: "POST", Path: "/api/keys", Who: admin, Tag: "admin", Summary: "Create an API key",
			Doc:  "`name` is also the name its messages are posted under, reserved for keys from then on (409 if a person or a guest has it). The secret is shown in this answer only.",
			Body: typeOf[keyRequest](), Example: map[string]any{"name": "ci-bot"},
			Status: 201, Reply: typeOf[newKeyReply](), Errors: []int{409}, handle: h.createKey},
		{Method: "DELETE", Path: "/api/keys/{id}", Who: admin, Tag: "admin", Summary: "Revoke an API key",
			Doc:    "It stops working at once.",
			Status: 204, handle: h.revokeKey},

		{Method: "GET", Path: "/api/openapi.json", Who: public, Tag: "meta", Summary: "This document (OpenAPI 3.1)",
			Status: 200, Reply: typeOf[map[string]any](), handle: h.openapi},
	}
}

// pathParams documents the path parameters by name.
var pathParams = map[string]param{
	"room":     {"room", "string", "a room name, path-escaped (rooms may hold non-ASCII)"},
	"seq":      {"seq", "integer", "the message's sequence number in the room"},
	"nickname": {"nickname", "string", "a nickname, path-escaped"},
	"id":       {"id", "integer", "the resource's id"},
}

// unsafe reports whether method changes something (and so needs the CSRF
// check with a cookie).
func unsafe(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}
