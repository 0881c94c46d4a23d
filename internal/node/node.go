package node

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/password"
)

// Renderer turns message text into safe HTML and the nicknames it mentions.
type Renderer interface {
	Render(text string) (html string, mentions []string)
}

// Config tunes a Node. Zero values mean the documented defaults.
type Config struct {
	MaxTextChars  int           // longest message text, in characters; default 4000
	Rate          float64       // commands per second a session may give on average; default 10
	Burst         int           // commands a session may give at once; default 20
	FloodStrikes  int           // commands refused in a row for rate before the session is closed; default 4×Burst
	NickHold      time.Duration // how long an offline user's nickname stays theirs; default 7 days
	MaxRooms      int           // rooms one session may be in; default 100
	HistoryLimit  int           // largest history page; default 200
	TypingEvery   time.Duration // at most one typing event per target per session in this time; default 2s
	AnnouncementT time.Duration // lifetime of an announcement with none given; default 24h
	PresenceLimit int           // rooms with more members here get no joined/left events; default 256, negative: no limit
	MaxBatch      int           // events in one fan-out batch at most, well below the transport's outbox limit (a room producing more per window goes on without waiting); default 256
	MaxPipeline   int           // sends of one session waiting for the store at most (pipeline.go); each is answered by an ack and the sender's own event, so keep it well below the outbox limit; default 32
	FanoutWindow  time.Duration // a busy room of 1,000 members here delivers at most once per window, others in proportion (batch.go); default 50ms, negative: every event at once
	Heartbeat     time.Duration // how often this node tells the others it is alive; one not heard from for 3 is gone (cluster.go); default 2s
	Logger        *slog.Logger  // default slog.Default()
	Metrics       Metrics       // measurements (metrics.go); nil: none
	// PasswordParams is the cost of password hashes (internal/password);
	// the zero value: password.Default. Tests lower it.
	PasswordParams password.Params
	SessionTTL     time.Duration // lifetime of a login session; default 30 days
	// Now is the clock of every decision (rate limits, bans, mutes, slow
	// mode, login failures, announcements); default time.Now.
	Now func() time.Time
}

// Defaults for Config.
const (
	DefaultMaxTextChars = 4000 // a long chat message, a short e-mail
	DefaultRate         = 10   // well above human typing, far below a script
	DefaultBurst        = 20   // a paste of a few lines, a reconnect that joins many rooms
	DefaultNickHold     = 7 * 24 * time.Hour
	DefaultMaxRooms     = 100
	DefaultHistoryLimit = 200
	defaultHistoryPage  = 50
	DefaultTypingEvery  = 2 * time.Second // clients show "typing" for a few seconds per event
	DefaultAnnouncement = 24 * time.Hour
	// DefaultPresenceLimit: past this many members, joined and left
	// events are noise to people and a storm to the server (every
	// reconnect of N members sends N² events); members ask presence.
	DefaultPresenceLimit = 256
	// DefaultFanoutWindow: below what people notice in a room of a
	// thousand, long enough that a busy room's messages go out dozens per
	// write (docs/PERFORMANCE.md: 10 ms → 0.90 µs of CPU per delivery,
	// 25 ms → 0.57, 50 ms → 0.44).
	DefaultFanoutWindow = 50 * time.Millisecond
	// DefaultMaxBatch: a quarter of the WebSocket outbox's default limit
	// of 1,024 messages, which must hold a whole batch.
	DefaultMaxBatch = 256
	// DefaultMaxPipeline: enough that a busy connection's sends share
	// commits; 64 frames (acks and own events) when they come back at once.
	DefaultMaxPipeline = 32
	// DefaultHeartbeat: a node that dies drops out of other nodes'
	// presence within 3–4 heartbeats (6–8 s).
	DefaultHeartbeat = 2 * time.Second
	// DefaultSessionTTL: a login lasts a month unless its owner logs out
	// or changes the password.
	DefaultSessionTTL = 30 * 24 * time.Hour
	maxClientIDLen    = 64
	pendingDMLimit    = 1000 // direct messages pushed at login; the rest via history
	storeTimeout      = 10 * time.Second
)

func (c *Config) setDefaults() {
	setDefault(&c.MaxTextChars, DefaultMaxTextChars)
	setDefault(&c.Rate, DefaultRate)
	setDefault(&c.Burst, DefaultBurst)
	setDefault(&c.FloodStrikes, 4*c.Burst)
	setDefault(&c.NickHold, DefaultNickHold)
	setDefault(&c.MaxRooms, DefaultMaxRooms)
	setDefault(&c.HistoryLimit, DefaultHistoryLimit)
	setDefault(&c.TypingEvery, DefaultTypingEvery)
	setDefault(&c.AnnouncementT, DefaultAnnouncement)
	setDefault(&c.PresenceLimit, DefaultPresenceLimit)
	setDefault(&c.FanoutWindow, DefaultFanoutWindow)
	setDefault(&c.MaxBatch, DefaultMaxBatch)
	setDefault(&c.MaxPipeline, DefaultMaxPipeline)
	setDefault(&c.Heartbeat, DefaultHeartbeat)
	setDefault(&c.SessionTTL, DefaultSessionTTL)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Node is the engine of one process. Create it with New, stop it with
// Shutdown.
type Node struct {
	cfg    Config
	store  parley.Store
	broker parley.Broker
	render Renderer
	log    *slog.Logger
	unsub  func()

	mu         sync.RWMutex
	sessions   map[*Session]struct{} // every connected session
	users      map[string][]*Session // NickKey → sessions that said hello
	rooms      map[string]*room      // room name → local members
	closing    bool
	inflight   sync.WaitGroup // commands being handled; Add only under mu with !closing
	fanning    sync.WaitGroup // rooms' fan-out goroutines (batch.go); Add only under mu with !fanStopped
	fanStopped bool           // Shutdown waits for fanning: events deliver synchronously from then on

	id          string                 // this node in the cluster (cluster.go)
	seq         *sequencer             // delivers each conversation's messages in seq order
	remotes     map[string]*remoteNode // the other nodes and their people; guarded by mu
	snapshotDue bool                   // the next heartbeat carries this node's presence; guarded by mu
	hbOnce      sync.Once              // Shutdown stops the heartbeats
	// publishFailed counts broker failures, logged at most once a second
	// (publishLogged: UnixNano of the last log).
	publishFailed, publishLogged atomic.Int64
	delivered                    atomic.Int64 // event frames queued on connections (Stats)
	hbStop                       chan struct{}
	hbDone                       chan struct{}

	mod    modHolder   // bans, mutes and slow modes (modstate.go)
	slow   slowTracker // last sends in slow-mode rooms (modstate.go)
	logins loginGuard  // login failures (login.go)

	sendDeadlines sendDeadlines // the pipelined sends' store deadlines (deadline.go)
	ann           announcer     // the timer of scheduled announcements (announce.go)
}

// New returns a Node that stores in store and publishes through broker, and
// subscribes it to broker.
func New(store parley.Store, broker parley.Broker, render Renderer, cfg Config) *Node {
	cfg.setDefaults()
	n := &Node{
		cfg: cfg, store: store, broker: broker, render: render, log: cfg.Logger,
		sessions: make(map[*Session]struct{}),
		users:    make(map[string][]*Session),
		rooms:    make(map[string]*room),
		id:       newNodeID(),
		seq:      newSequencer(),
		remotes:  make(map[string]*remoteNode),
		hbStop:   make(chan struct{}),
		hbDone:   make(chan struct{}),
		logins:   newLoginGuard(),
	}
	n.unsub = broker.Subscribe(n.receive)
	go n.heartbeats(n.hbStop, n.hbDone)
	n.ann.start(n)
	return n
}

// Shutdown refuses new commands, waits (up to ctx) for the commands being
// handled to finish, then closes every session as going away. The Store is
// the caller's to close afterwards.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	n.closing = true
	n.mu.Unlock()

	done := make(chan struct{})
	go func() { n.inflight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	n.unsub()
	n.ann.stop()
	n.hbOnce.Do(func() {
		close(n.hbStop)
		<-n.hbDone
		n.broadcast(context.Background(), &parley.Event{Kind: parley.EventNodeGone}) // others drop this node's people at once
	})
	n.mu.Lock()
	n.fanStopped = true
	n.mu.Unlock()
	n.fanning.Wait() // what was published goes out before the close frames
	n.mu.RLock()
	for s := range n.sessions {
		s.out.Close(errShuttingDown)
	}
	n.mu.RUnlock()
	return err
}

var errShuttingDown = &parley.Error{Code: parley.EUnavailable, Message: "server shutting down", RetryAfter: time.Second}

// begin registers a command in flight; it fails once shutdown started.
func (n *Node) begin() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closing {
		return false
	}
	n.inflight.Add(1)
	return true
}
