package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/api"
	"github.com/parley-chat/parley/internal/httpd"
	"github.com/parley-chat/parley/internal/markup"
	"github.com/parley-chat/parley/internal/metrics"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/origin"
	"github.com/parley-chat/parley/internal/peer"
	"github.com/parley-chat/parley/internal/transport/socketio"
	wstransport "github.com/parley-chat/parley/internal/transport/ws"
	"github.com/parley-chat/parley/internal/wsconn"
	"github.com/parley-chat/parley/web"
)

const serveUsage = `Usage: parley serve [flags]

Serves the chat: the web page at /, the native WebSocket endpoint at /ws,
the Socket.IO endpoint at /socket.io/ and the HTTP API at /api/ (accounts,
moderation, integrations; see docs/API.md). This is also what "parley" with
no subcommand does.
`

// The engine is what the HTTP API needs.
var _ api.Engine = (*node.Node)(nil)

// ServeConfig is the configuration of "parley serve".
type ServeConfig struct {
	Config          string // TOML file of settings (configfile.go)
	Addr            string
	DB              string
	Store           string // postgres:// URL; empty: SQLite in DB
	Broker          string // nats:// or redis:// URL; empty: one node, in memory
	BrokerChannel   string
	Heartbeat       time.Duration
	AllowedOrigins  string
	TrustedProxies  string // comma-separated addresses and prefixes whose X-Forwarded-For/-Proto are believed
	AdminToken      string
	SessionTTL      time.Duration
	MaxTextChars    int
	MaxFrameBytes   int
	Rate            float64
	Burst           int
	NickHold        time.Duration
	PresenceLimit   int
	FanoutWindow    time.Duration
	ParkAfter       time.Duration
	OutboxMessages  int
	OutboxBytes     int
	SendBuffer      int
	ShutdownTimeout time.Duration
	LogLevel        string
	LogFormat       string

	SocketIONamespaces string // extra Socket.IO namespaces with the full API
	SocketIOCompatNsp  string // tutorial-compatible namespace; empty: off
	SocketIOCompatIn   string
	SocketIOCompatOut  string
	SocketIOCompatRoom string

	DebugAddr string // pprof listener; empty: off
	Metrics   bool   // serve /metrics on Addr (it is always on DebugAddr)
}

// Main is one running server: ParseFlags, then Run, then Close. Tests run
// it in-process on port 0 with a temporary database.
type Main struct {
	Config ServeConfig
	Stderr io.Writer
	Getenv func(string) string

	fs          *flagSet // the flags ParseFlags parsed (config check prints them)
	log         *slog.Logger
	store       parley.Store
	closeBroker func() error
	node        *node.Node
	ws          *wstransport.Handler
	sio         *socketio.Server
	srv         *http.Server
	ln          net.Listener
	debug       *http.Server // pprof, when DebugAddr is set
	debugLn     net.Listener
	registry    *prometheus.Registry
	peers       peer.Resolver // --trusted-proxies, parsed by ParseFlags
	done        chan error    // the http.Server's Serve result
}

// NewMain returns a Main with the default configuration.
func NewMain(stderr io.Writer, getenv func(string) string) *Main {
	m := &Main{Stderr: stderr, Getenv: getenv}
	_ = m.flags().parse(nil, func(string) string { return "" }) // fill in defaults
	return m
}

func (m *Main) flags() *flagSet {
	c := &m.Config
	fs := newFlagSet("parley serve", m.Stderr, serveUsage)
	fs.configVar(&c.Config, "config", "PARLEY_CONFIG",
		"TOML file of settings named as these flags (addr = \":8080\"); a flag or PARLEY_* variable wins over it")
	fs.stringVar(&c.Addr, "addr", "PARLEY_ADDR", ":8080", "listen address (host:port)")
	storeFlags(fs, c)
	fs.stringVar(&c.Broker, "broker", "PARLEY_BROKER", "",
		"nats://host:4222 or redis://host:6379 to run as one of several nodes; empty: a single node (needs --store with it)")
	fs.stringVar(&c.BrokerChannel, "broker-channel", "PARLEY_BROKER_CHANNEL", "parley.events",
		"the NATS subject or Redis channel the nodes of one cluster share; another cluster on the same broker needs another")
	fs.durationVar(&c.Heartbeat, "heartbeat", "PARLEY_HEARTBEAT", node.DefaultHeartbeat,
		"how often a node tells the others it is alive; one silent for 3 heartbeats is dropped from presence")
	fs.stringVar(&c.AllowedOrigins, "allowed-origins", "PARLEY_ALLOWED_ORIGINS", "",
		"comma-separated browser origins (https://chat.example.com) allowed to connect besides the server's own; * allows any")
	fs.stringVar(&c.TrustedProxies, "trusted-proxies", "PARLEY_TRUSTED_PROXIES", "",
		"comma-separated addresses or prefixes (127.0.0.1, 10.0.0.0/8) of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (bans by IP, login limits, Secure cookies); empty: none")
	fs.stringVar(&c.AdminToken, "admin-token", "PARLEY_ADMIN_TOKEN", "",
		"bearer secret that acts as an admin on the HTTP API (/api/) as \"operator\"; empty: only API keys and admins' logins")
	fs.durationVar(&c.SessionTTL, "session-ttl", "PARLEY_SESSION_TTL", node.DefaultSessionTTL, "how long a login (the web page's cookie, a session token) lasts")
	fs.intVar(&c.MaxTextChars, "max-message-chars", "PARLEY_MAX_MESSAGE_CHARS", node.DefaultMaxTextChars, "longest message text, in characters")
	fs.intVar(&c.MaxFrameBytes, "max-frame-bytes", "PARLEY_MAX_FRAME_BYTES", 64<<10, "hard cap on one WebSocket frame; a larger frame closes the connection (1009)")
	fs.floatVar(&c.Rate, "rate", "PARLEY_RATE", node.DefaultRate, "commands per second one connection may give on average")
	fs.intVar(&c.Burst, "burst", "PARLEY_BURST", node.DefaultBurst, "commands one connection may give at once before the rate applies")
	fs.durationVar(&c.ParkAfter, "park-after", "PARLEY_PARK_AFTER", wsconn.DefaultParkAfter,
		"a WebSocket silent this long is waited for by the process's poller instead of a goroutine of its own (Linux): less memory per idle connection")
	fs.durationVar(&c.FanoutWindow, "fanout-window", "PARLEY_FANOUT_WINDOW", node.DefaultFanoutWindow,
		"a busy room of 1,000 members here sends its new messages at most once per window, many per write; other sizes in proportion (100: a tenth), at most 1s; negative: at once")
	fs.intVar(&c.PresenceLimit, "presence-limit", "PARLEY_PRESENCE_LIMIT", node.DefaultPresenceLimit,
		"rooms with more members than this get no joined/left events (members ask presence instead); -1: no limit")
	fs.durationVar(&c.NickHold, "nick-hold", "PARLEY_NICK_HOLD", node.DefaultNickHold, "how long an offline user's nickname stays reserved for their session token")
	fs.intVar(&c.OutboxMessages, "outbox-messages", "PARLEY_OUTBOX_MESSAGES", 1024, "frames queued for one slow connection before it is cut off (close 4000)")
	fs.intVar(&c.OutboxBytes, "outbox-bytes", "PARLEY_OUTBOX_BYTES", 4<<20, "bytes queued for one slow connection before it is cut off (close 4000)")
	fs.intVar(&c.SendBuffer, "send-buffer-bytes", "PARLEY_SEND_BUFFER_BYTES", 0,
		"fixed kernel send buffer per WebSocket connection (SO_SNDBUF); 0 lets the kernel grow it (to 4 MiB on Linux)")
	fs.durationVar(&c.ShutdownTimeout, "shutdown-timeout", "PARLEY_SHUTDOWN_TIMEOUT", 10*time.Second, "how long SIGINT/SIGTERM waits for work in flight")
	fs.stringVar(&c.LogLevel, "log-level", "PARLEY_LOG_LEVEL", "info", "debug, info, warn or error")
	fs.stringVar(&c.LogFormat, "log-format", "PARLEY_LOG_FORMAT", "text", "text or json")
	fs.stringVar(&c.SocketIONamespaces, "socketio-namespaces", "PARLEY_SOCKETIO_NAMESPACES", "/chat",
		"comma-separated Socket.IO namespaces served with the full event API besides /")
	fs.stringVar(&c.SocketIOCompatNsp, "socketio-compat-namespace", "PARLEY_SOCKETIO_COMPAT_NAMESPACE", "",
		"Socket.IO namespace for tutorial-style pages (one event in, one event out, {data: text}); empty turns the mapping off")
	fs.stringVar(&c.SocketIOCompatIn, "socketio-compat-in", "PARLEY_SOCKETIO_COMPAT_IN", "my event",
		"event such pages emit with {data: text}: posted to the compat room")
	fs.stringVar(&c.SocketIOCompatOut, "socketio-compat-out", "PARLEY_SOCKETIO_COMPAT_OUT", "my response",
		"event such pages listen to: every message of the compat room, as {data: text, from: nickname}")
	fs.stringVar(&c.SocketIOCompatRoom, "socketio-compat-room", "PARLEY_SOCKETIO_COMPAT_ROOM", "lobby", "the room of the compat mapping")
	fs.stringVar(&c.DebugAddr, "debug-addr", "PARLEY_DEBUG_ADDR", "",
		"separate listen address for Go's profiler (/debug/pprof/) and /metrics; keep it private, e.g. 127.0.0.1:6060; empty turns it off")
	fs.boolVar(&c.Metrics, "metrics", "PARLEY_METRICS", true,
		"serve Prometheus metrics at /metrics on --addr (false: only on --debug-addr, if set)")
	return fs
}

// storeFlags defines the flags that name the store: serve's, and those of
// the commands that work on its database (parley user).
func storeFlags(fs *flagSet, c *ServeConfig) {
	fs.stringVar(&c.DB, "db", "PARLEY_DB", "./parley.db", "SQLite database file; created with its schema on first start")
	fs.stringVar(&c.Store, "store", "PARLEY_STORE", "",
		"PostgreSQL URL (postgres://user:pass@host/db) for history shared by several nodes; empty: SQLite in --db")
}

// ParseFlags reads the configuration from args and the environment.
func (m *Main) ParseFlags(args []string) error {
	m.fs = m.flags()
	if err := m.fs.parse(args, m.Getenv); err != nil {
		return err
	}
	c := &m.Config
	switch {
	case c.MaxTextChars <= 0, c.MaxFrameBytes < 1024, c.Rate <= 0, c.Burst <= 0:
		return errors.New("limits must be positive (max-frame-bytes at least 1024)")
	case c.OutboxMessages <= 0, c.OutboxBytes <= 0:
		return errors.New("outbox limits must be positive")
	case c.Heartbeat <= 0:
		return errors.New("heartbeat must be positive")
	case c.SessionTTL <= 0:
		return errors.New("session-ttl must be positive")
	}
	trusted, err := peer.ParseTrusted(c.TrustedProxies)
	if err != nil {
		return fmt.Errorf("trusted-proxies %q: %w", c.TrustedProxies, err)
	}
	m.peers = peer.Resolver{Trusted: trusted}
	return nil
}

// Run opens the store, starts listening and serves in the background. It
// returns once the server accepts connections, or with the reason it
// cannot.
func (m *Main) Run(ctx context.Context) (err error) {
	if m.log, err = newLogger(m.Stderr, m.Config.LogLevel, m.Config.LogFormat); err != nil {
		return err
	}
	start := time.Now()
	c := m.Config
	var storeName, brokerName string
	if m.store, storeName, err = openStore(ctx, &c); err != nil {
		return err
	}
	m.registry = prometheus.NewRegistry()
	mx, err := metrics.New(m.registry)
	if err != nil {
		_ = m.store.Close()
		return err
	}
	hook := &reconnectHook{}
	var broker parley.Broker
	if broker, m.closeBroker, brokerName, err = openBroker(ctx, &c, m.log, hook); err != nil {
		_ = m.store.Close()
		return err
	}
	maxCommandBytes := min(c.MaxFrameBytes, 4*c.MaxTextChars+4096)
	m.node = node.New(m.store, broker, markup.New(), node.Config{
		MaxTextChars: c.MaxTextChars, Rate: c.Rate, Burst: c.Burst, NickHold: c.NickHold, Logger: m.log,
		Heartbeat:     c.Heartbeat,
		PresenceLimit: c.PresenceLimit,
		FanoutWindow:  c.FanoutWindow,
		MaxBatch:      max(1, min(node.DefaultMaxBatch, c.OutboxMessages/4)), // an outbox holds several batches
		// The acks and own events of a full pipeline of the largest
		// messages fill at most an eighth of an outbox.
		MaxPipeline: max(1, min(node.DefaultMaxPipeline, c.OutboxMessages/16, c.OutboxBytes/(16*maxCommandBytes))),
		Metrics:     mx,
		SessionTTL:  c.SessionTTL,
	})
	hook.n.Store(m.node)
	m.ws = wstransport.New(m.node, wstransport.Config{
		AllowedOrigins:  splitList(c.AllowedOrigins),
		MaxCommandBytes: maxCommandBytes,
		SendBuffer:      c.SendBuffer,
		Conn:            wsconn.Config{ReadLimit: int64(c.MaxFrameBytes), OutboxMessages: c.OutboxMessages, OutboxBytes: c.OutboxBytes, ParkAfter: c.ParkAfter},
		Peers:           m.peers,
		Logger:          m.log,
	})
	var compat *socketio.Compat
	if c.SocketIOCompatNsp != "" {
		compat = &socketio.Compat{Namespace: c.SocketIOCompatNsp, InEvent: c.SocketIOCompatIn, OutEvent: c.SocketIOCompatOut, Room: c.SocketIOCompatRoom}
	}
	if m.sio, err = socketio.New(m.node, socketio.Config{
		Namespaces:      splitList(c.SocketIONamespaces),
		AllowedOrigins:  splitList(c.AllowedOrigins),
		MaxCommandBytes: maxCommandBytes,
		OutboxMessages:  c.OutboxMessages,
		OutboxBytes:     c.OutboxBytes,
		Compat:          compat,
		Peers:           m.peers,
		Logger:          m.log,
	}); err != nil {
		m.closeBackends()
		return err
	}
	if err := mx.Observe(metrics.Sources{
		Transports: []metrics.Transport{
			{Name: "ws", Open: func() int64 { return m.ws.Stats().Open }, SlowConsumers: func() int64 { return m.ws.Stats().SlowConsumers }},
			{Name: "socketio", Open: func() int64 { return m.sio.Stats().Open }, SlowConsumers: func() int64 { return m.sio.Stats().SlowConsumers }},
		},
		Delivered:       func() int64 { return m.node.Stats().Delivered },
		PublishFailures: func() int64 { return m.node.Stats().PublishFailures },
		Nodes:           func() int { return m.node.Stats().Nodes },
	}); err != nil {
		m.closeBackends()
		return err
	}
	metricsHandler := promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)})
	apiHandler := api.New(api.Config{
		Engine: m.node, AdminToken: c.AdminToken, Origins: origin.Policy{Allowed: splitList(c.AllowedOrigins)},
		Peers: m.peers, SessionTTL: c.SessionTTL, Logger: m.log,
	})
	hc := httpd.Config{Web: web.FS, WebSocket: m.ws, SocketIO: m.sio, API: apiHandler,
		Ready: []httpd.Check{m.readyCheck("store", m.store), m.readyCheck("broker", broker)}}
	if c.Metrics {
		hc.Metrics = metricsHandler
	}
	m.srv = &http.Server{
		Handler:           httpd.New(hc),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	if m.ln, err = net.Listen("tcp", c.Addr); err != nil {
		m.closeBackends()
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	if c.DebugAddr != "" {
		dln, err := net.Listen("tcp", c.DebugAddr)
		if err != nil {
			_ = m.ln.Close()
			m.closeBackends()
			return fmt.Errorf("listen on %s (debug): %w", c.DebugAddr, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.Handle("GET /metrics", metricsHandler)
		m.debug, m.debugLn = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, dln
		go func() { _ = m.debug.Serve(dln) }()
	}
	m.done = make(chan error, 1)
	go func() { m.done <- m.srv.Serve(m.ln) }()
	m.log.Info("parley is serving", "addr", m.ln.Addr().String(), "store", storeName, "broker", brokerName, "node", m.node.ID(),
		"admin_token", c.AdminToken != "", "trusted_proxies", len(m.peers.Trusted), "startup", time.Since(start).Round(time.Millisecond))
	return nil
}

// pinger is a store or broker that can tell whether its server answers
// (PostgreSQL, NATS, Redis); SQLite and the in-memory broker are always
// ready.
type pinger interface {
	Ping(ctx context.Context) error
}

// readyCheck is /readyz's check of a store or broker: its Ping, whose
// failures are logged (the response only names what is down).
func (m *Main) readyCheck(name string, backend any) httpd.Check {
	p, ok := backend.(pinger)
	if !ok {
		return httpd.Check{Name: name}
	}
	return httpd.Check{Name: name, Ping: func(ctx context.Context) error {
		err := p.Ping(ctx)
		if err != nil {
			m.log.Warn("readiness: "+name+" does not answer", "err", err)
		}
		return err
	}}
}

// Addr returns the address the server listens on (useful with port 0).
func (m *Main) Addr() string { return m.ln.Addr().String() }

// DebugAddr returns the address of the --debug-addr listener, or "" when
// there is none.
func (m *Main) DebugAddr() string {
	if m.debugLn == nil {
		return ""
	}
	return m.debugLn.Addr().String()
}

// URL returns the server's base URL on the loopback interface.
func (m *Main) URL() string {
	addr := m.Addr()
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "::" || host == "0.0.0.0" || host == "") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return "http://" + addr
}

// Close shuts down gracefully: stop accepting, let commands in flight
// finish, close every WebSocket with 1001, then close the store, which
// commits every pending write.
func (m *Main) Close() error {
	if m.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	m.log.Info("shutting down")
	// Stop accepting at once; the HTTP server's wait for requests in flight
	// (Socket.IO long-polls among them) ends once the endpoints are closed.
	shutdown := make(chan error, 1)
	go func() { shutdown <- m.srv.Shutdown(ctx) }()
	if m.debug != nil {
		_ = m.debug.Close()
	}
	errs := []error{m.node.Shutdown(ctx), m.ws.Close(ctx), m.sio.Close(ctx)}
	// What the HTTP server still waits for now is a short API call, or a
	// connection a browser opened ahead of time and never used (which it
	// would wait 5 s for): give it a moment, then close.
	select {
	case err := <-shutdown:
		errs = append(errs, err)
	case <-time.After(2 * time.Second):
		errs = append(errs, m.srv.Close())
		<-shutdown
	}
	if err := <-m.done; !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	errs = append(errs, m.closeBroker(), m.store.Close())
	m.srv = nil
	return errors.Join(errs...)
}

// closeBackends undoes a Run that failed after the store and broker were
// opened.
func (m *Main) closeBackends() {
	if m.node != nil {
		_ = m.node.Shutdown(context.Background())
	}
	_ = m.closeBroker()
	_ = m.store.Close()
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}
