// Package httpd routes Parley's HTTP surface: the embedded web page, the
// native WebSocket endpoint, the Socket.IO endpoint, the HTTP API (mounted
// at /api/, see internal/api), health and readiness, and the metrics.
package httpd

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"sync"
	"time"
)

// Config wires the routes.
type Config struct {
	Web       fs.FS        // the web page's files (index.html, admin.html, …), served at /
	WebSocket http.Handler // the native endpoint, served at /ws
	SocketIO  http.Handler // the Socket.IO endpoint, served at /socket.io/ (optional)
	// API serves everything under /api/ (internal/api); nil: none.
	API http.Handler
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
	if cfg.API != nil {
		// Every method the API may answer (405 comes from the API itself).
		for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			mux.Handle(method+" /api/", cfg.API)
		}
	}
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
