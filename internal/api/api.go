// Package api is Parley's HTTP API under /api/: sign-up and login for the
// web page (a session cookie), and for integrations (bearer API keys, the
// server's admin token, login session tokens) rooms, messages, users,
// moderation, roles, API keys and announcements. It owns the route table
// (routes.go), which both the router and the OpenAPI document served at
// GET /api/openapi.json are built from, so neither can drift from the
// other.
//
// The package decides who is asking (auth.go) and what the body says
// (decode.go); the engine decides whether it is allowed and what happens.
// Every error becomes HTTP through httperr.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/httperr"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/origin"
	"github.com/parley-chat/parley/internal/peer"
)

// Engine is what the API needs of the chat engine (*node.Node, whose
// methods document each behaviour and error code). Methods that take an
// Actor check its role themselves; the API checks it too, before reading
// the body, so that a refusal costs nothing.
type Engine interface {
	Accounts
	Integrations
	Moderation
	Announcements
}

// Accounts registers users, logs them in and out, and manages roles and
// API keys.
type Accounts interface {
	Register(ctx context.Context, nick, password, heldToken string, ip netip.Addr) (parley.Login, error)
	Login(ctx context.Context, nick, password string, ip netip.Addr) (parley.Login, error)
	Logout(ctx context.Context, token string) error
	ChangePassword(ctx context.Context, token, current, next string) (parley.Login, error)
	Authenticate(ctx context.Context, token string) (parley.Actor, parley.User, error)
	AuthenticateKey(ctx context.Context, secret string) (parley.Actor, error)
	SetRole(ctx context.Context, by parley.Actor, nick string, role parley.Role) (parley.User, error)
	Users(ctx context.Context, by parley.Actor, after string, limit int) ([]node.UserInfo, error)
	CreateAPIKey(ctx context.Context, by parley.Actor, name string) (parley.APIKey, string, error)
	APIKeys(ctx context.Context, by parley.Actor) ([]parley.APIKey, error)
	RevokeAPIKey(ctx context.Context, by parley.Actor, id int64) (parley.APIKey, error)
}

// Integrations reads and posts messages and lists rooms.
type Integrations interface {
	Post(ctx context.Context, by parley.Actor, room, text, clientID string) (parley.Message, bool, error)
	RoomHistory(ctx context.Context, by parley.Actor, room string, before, after int64, limit int) ([]parley.Message, bool, error)
	RoomList(ctx context.Context, by parley.Actor) ([]node.RoomListing, error)
}

// Moderation kicks, bans, mutes, deletes messages, sets slow mode and
// reads the action log.
type Moderation interface {
	Kick(ctx context.Context, by parley.Actor, nick, reason string) error
	Ban(ctx context.Context, by parley.Actor, req node.BanRequest) (parley.Ban, error)
	Unban(ctx context.Context, by parley.Actor, id int64) (parley.Ban, error)
	Bans(ctx context.Context, by parley.Actor) ([]parley.Ban, error)
	Mute(ctx context.Context, by parley.Actor, room, nick string, d time.Duration, reason string) (parley.Mute, error)
	Unmute(ctx context.Context, by parley.Actor, room, nick string) error
	Mutes(ctx context.Context, by parley.Actor, room string) ([]parley.Mute, error)
	DeleteMessage(ctx context.Context, by parley.Actor, room string, seq int64) (parley.Message, error)
	SetSlowMode(ctx context.Context, by parley.Actor, room string, every time.Duration) (parley.Room, error)
	ActionLog(ctx context.Context, by parley.Actor, before int64, limit int) ([]parley.Action, error)
}

// Announcements publishes, lists and withdraws site-wide announcements.
type Announcements interface {
	Announce(ctx context.Context, by parley.Actor, req node.AnnouncementRequest) (parley.Announcement, error)
	Announcements(ctx context.Context) ([]parley.Announcement, error)
	AllAnnouncements(ctx context.Context, by parley.Actor) ([]parley.Announcement, error)
	DeleteAnnouncement(ctx context.Context, by parley.Actor, id int64) (parley.Announcement, error)
}

// Config wires the API.
type Config struct {
	Engine Engine
	// AdminToken, if not empty, is a bearer secret that acts as an admin
	// (the actor "operator"). Empty: only API keys and admin logins.
	AdminToken string
	// Origins are the browser origins allowed besides the server's own
	// host, as for the WebSocket endpoints; a cookie-authenticated POST,
	// PUT or DELETE must come from one of them.
	Origins origin.Policy
	// Peers tells the client's address (past the trusted proxies, as the
	// transports do) for the login limiter, and whether a trusted proxy
	// says the request came over HTTPS.
	Peers peer.Resolver
	// SessionTTL is the lifetime of a login session: the cookie's
	// Max-Age when the engine gives no expiry. Zero: 30 days.
	SessionTTL time.Duration
	// Logger logs internal errors; default slog.Default().
	Logger *slog.Logger
	// Now is the clock for cookie lifetimes; default time.Now.
	Now func() time.Time
}

// DefaultSessionTTL is how long a login lasts when Config.SessionTTL is 0.
const DefaultSessionTTL = 30 * 24 * time.Hour

// maxBody bounds a request body: the longest message is 4,000 characters
// of up to 4 bytes, and nothing else comes close.
const maxBody = 64 << 10

// Handler serves /api/. Create it with New.
type Handler struct {
	cfg   Config
	mux   *http.ServeMux
	doc   []byte // the OpenAPI document, built once
	admin [32]byte
}

// New returns the API handler.
func New(cfg Config) *Handler {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	if cfg.AdminToken != "" {
		h.admin = hashSecret(cfg.AdminToken)
	}
	for _, rt := range h.routes() {
		h.mux.Handle(rt.Method+" "+rt.Path, h.wrap(rt))
	}
	h.doc = mustJSON(openAPI(h.routes()))
	return h
}

// ServeHTTP routes r. A path no route has answers 404 and a method a
// path does not take answers 405 with Allow, both as JSON errors.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.unrouted(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

// unrouted answers a request no route matches.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := h.mux.Handler(probe); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		httperr.Write(w, parley.Errorf(parley.ENotFound, "no API endpoint %s (see /api/openapi.json)", r.URL.Path))
		return
	}
	for _, m := range allow {
		w.Header().Add("Allow", m)
	}
	writeStatus(w, http.StatusMethodNotAllowed, parley.Errorf(parley.EInvalid, "%s does not take %s", r.URL.Path, r.Method))
}

// writeStatus writes err through httperr with status instead of the code's
// own (415 and 405 have no code of their own: they are "invalid").
func writeStatus(w http.ResponseWriter, status int, err error) {
	httperr.Write(statusWriter{w, status}, err)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s statusWriter) WriteHeader(int) { s.ResponseWriter.WriteHeader(s.status) }
