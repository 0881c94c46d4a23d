// Package httpd routes Parley's HTTP surface: the embedded web page, the
// native WebSocket endpoint, the Socket.IO endpoint, the admin API
// (announcements), health and readiness, and the metrics.
package httpd

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/httperr"
	"github.com/parley-chat/parley/internal/node"
)

// Announcer is what the admin API needs of the engine.
type Announcer interface {
	Announce(ctx context.Context, by parley.Actor, req node.AnnouncementRequest) (parley.Announcement, error)
	Announcements(ctx context.Context) ([]parley.Announcement, error)
}

// Config wires the routes.
type Config struct {
	Web        fs.FS        // the web page's files, served at /
	WebSocket  http.Handler // the native endpoint, served at /ws
	SocketIO   http.Handler // the Socket.IO endpoint, served at /socket.io/ (optional)
	Announcer  Announcer
	AdminToken string // bearer token for the admin API; empty disables it
	// Metrics, if set, is served at GET /metrics (the Prometheus
	// exposition; httpd does not know its format).
	Metrics http.Handler
	// Ready are what GET /readyz asks, each within ReadyTimeout.
	Ready []Check
	// ReadyTimeout bounds each readiness check; default 2 s.
	ReadyTimeout time.Duration
}

// Check is one dependency the readiness endpoint asks.
type Check struct {
	Name string // in the /readyz body: "store", "broker"
	// Ping reports whether the dependency answers; it must return when ctx
	// ends. Nil: always ready (SQLite, the in-memory broker).
	Ping func(ctx context.Context) error
}

// DefaultReadyTimeout bounds a readiness check: a load balancer asks every
// few seconds, and a dependency this slow is as good as down.
const DefaultReadyTimeout = 2 * time.Second

// maxAPIBody bounds an admin API request body.
const maxAPIBody = 64 << 10

// New returns the server's HTTP handler.
func New(cfg Config) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /", securityHeaders(http.FileServerFS(cfg.Web)))
	mux.Handle("GET /ws", cfg.WebSocket)
	if cfg.SocketIO != nil {
		for _, method := range []string{"GET", "POST", "OPTIONS"} { // polling, sending, CORS preflight
			mux.Handle(method+" /socket.io/", cfg.SocketIO)
		}
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	timeout := cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	mux.Handle("GET /readyz", readiness{checks: cfg.Ready, timeout: timeout})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	a := &adminAPI{announcer: cfg.Announcer, token: cfg.AdminToken}
	mux.Handle("POST /api/announcements", a.authorized(a.postAnnouncement))
	mux.HandleFunc("GET /api/announcements", a.listAnnouncements)
	return mux
}

// securityHeaders forbids framing and inline script on the page: user text
// is never inserted unescaped, and this is the second wall.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy",
			"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

type adminAPI struct {
	announcer Announcer
	token     string
}

// authorized lets a request through only with "Authorization: Bearer
// <admin token>"; anything else is 401 and nothing happens.
func (a *adminAPI) authorized(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.token == "" {
			httperr.Write(w, parley.Errorf(parley.EUnauthorized, "the admin API is off: start the server with --admin-token"))
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="parley"`)
			httperr.Write(w, parley.Errorf(parley.EUnauthorized, "missing or wrong admin token"))
			return
		}
		next(w, r)
	})
}

// AnnouncementRequest is the body of POST /api/announcements.
type AnnouncementRequest struct {
	Text string `json:"text"`
	// TTL is how long the announcement stays active, as a Go duration
	// ("2h", "30m"); empty means the server's default (24h).
	TTL string `json:"ttl,omitempty"`
}

// AnnouncementJSON is an announcement in API responses.
type AnnouncementJSON struct {
	ID        int64     `json:"id"`
	Text      string    `json:"text"`
	HTML      string    `json:"html"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *adminAPI) postAnnouncement(w http.ResponseWriter, r *http.Request) {
	var req AnnouncementRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err := dec.Decode(&req); err != nil {
		httperr.Write(w, parley.Errorf(parley.EBadJSON, "body must be a JSON object {\"text\": …}: %v", err))
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		var err error
		if ttl, err = time.ParseDuration(req.TTL); err != nil || ttl <= 0 {
			httperr.Write(w, parley.Errorf(parley.EInvalid, "ttl %q is not a positive duration like \"2h\"", req.TTL))
			return
		}
	}
	ann, err := a.announcer.Announce(r.Context(), parley.Actor{Name: "operator", Role: parley.RoleAdmin, Via: "admin_token"}, node.AnnouncementRequest{Text: req.Text, TTL: ttl})
	if err != nil {
		httperr.Write(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, toJSON(ann))
}

func (a *adminAPI) listAnnouncements(w http.ResponseWriter, r *http.Request) {
	anns, err := a.announcer.Announcements(r.Context())
	if err != nil {
		httperr.Write(w, err)
		return
	}
	out := make([]AnnouncementJSON, len(anns))
	for i, ann := range anns {
		out[i] = toJSON(ann)
	}
	writeJSON(w, http.StatusOK, map[string]any{"announcements": out})
}

func toJSON(a parley.Announcement) AnnouncementJSON {
	return AnnouncementJSON{ID: a.ID, Text: a.Text, HTML: a.HTML, CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ReadyJSON is the body of GET /readyz.
type ReadyJSON struct {
	Status string            `json:"status"`         // "ready" (200) or "unavailable" (503)
	Checks map[string]string `json:"checks"`         // check name → "ok" or "down"
	Down   []string          `json:"down,omitempty"` // the checks that failed, in order
}

// readiness answers 200 when every check answers within the timeout, else
// 503 naming what is down. The reasons are not in the body (it is public):
// whoever wires the checks logs them.
type readiness struct {
	checks  []Check
	timeout time.Duration
}

func (rd readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), rd.timeout)
	defer cancel()
	errs := make([]error, len(rd.checks))
	var wg sync.WaitGroup
	for i, c := range rd.checks {
		if c.Ping == nil {
			continue
		}
		wg.Go(func() { errs[i] = c.Ping(ctx) })
	}
	wg.Wait()
	body := ReadyJSON{Status: "ready", Checks: make(map[string]string, len(rd.checks))}
	for i, c := range rd.checks {
		body.Checks[c.Name] = "ok"
		if errs[i] != nil {
			body.Checks[c.Name] = "down"
			body.Down = append(body.Down, c.Name)
		}
	}
	status := http.StatusOK
	if len(body.Down) > 0 {
		body.Status, status = "unavailable", http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, body)
}
