// Package natsbroker is a parley.Broker on a NATS server (core NATS
// publish/subscribe, no JetStream): every node publishes its events on one
// subject and subscribes to it, so each event reaches every node, the
// publisher's own included. Events are encoded with internal/eventwire.
//
// # Design
//
// One NATS connection per Broker (nats.go), which carries both directions:
//
//   - Publish encodes the event on the caller's goroutine and appends it to
//     a bounded queue (eventwire.Queue: 16,384 events or 64 MiB by
//     default) without blocking; one goroutine takes the queue in order and
//     hands each event to the connection (nats.go buffers and flushes them
//     on its own goroutine). Events published one after another therefore
//     leave in that order, from any goroutine, and NATS keeps the order of
//     one connection's messages to each subscriber.
//   - One NATS subscription on the subject, made in New (and flushed, so it
//     is live at the server before New returns). Its handler decodes each
//     event once and gives it to the eventwire.Hub, which runs every
//     parley subscription's callbacks in order on a goroutine of its own.
//
// # When the server is away
//
// New fails (within its ctx, at most 5 s) when the server cannot be
// reached: a node refuses to start. Afterwards nats.go reconnects by
// itself, forever (every 0.5–1.5 s), and re-subscribes; once the server
// has the subscription again (a flush), Options.OnReconnect is called.
// While the connection is down, Publish fails at once with an
// EUnavailable parley.Error and nothing is buffered for later (nats.go's
// reconnect buffer is off), so delivery is at most once across an outage;
// a node fills the gap from its store when OnReconnect tells it to. Events
// queued when the link broke are lost, and logged. In normal operation
// nothing is lost or duplicated.
package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/eventwire"
)

// DefaultChannel is the subject the nodes share unless Options.Channel
// names another.
const DefaultChannel = "parley.events"

// Timings of the connection.
const (
	connectTimeout = 5 * time.Second        // a dial and handshake; New waits at most this long
	reconnectWait  = 500 * time.Millisecond // between attempts, plus up to 1 s of jitter
	reconnectJit   = time.Second
	pingInterval   = 2 * time.Second // a silent server is given up when a third ping finds two unanswered: ~6 s
	maxPingsOut    = 2
	writeTimeout   = 5 * time.Second // a write to the server that takes longer breaks the link
	flushTimeout   = 2 * time.Second // waiting for the server to confirm a subscription
	drainTimeout   = 2 * time.Second // Close: sending what is queued
)

// Options configures a Broker.
type Options struct {
	// Channel is the subject every node publishes on and subscribes to;
	// DefaultChannel if empty. Nodes of one cluster must share it.
	Channel string
	// Logger receives the broker's warnings and errors (slog.Default() if
	// nil).
	Logger *slog.Logger
	// OnReconnect, if set, is called after the connection to the server
	// came back and the subscription is live again, so the node can catch
	// up from its store on what it missed. It runs on nats.go's callback
	// goroutine (never on a subscriber's), one call at a time.
	OnReconnect func()
	// QueueLimit is how many events may wait to be sent;
	// eventwire.DefaultQueueEvents if 0.
	QueueLimit int
}

var _ parley.Broker = (*Broker)(nil)

// Broker is a parley.Broker on NATS. Create it with New; Close it.
type Broker struct {
	nc      *nats.Conn
	subject string
	opts    Options
	log     *slog.Logger
	hub     *eventwire.Hub
	queue   *eventwire.Queue

	closed    atomic.Bool
	closeOnce sync.Once
	refused   eventwire.RateLog
}

// New connects to the NATS server at serverURL (nats://host:port, several
// separated by commas) and subscribes to the channel. It fails, within
// ctx and at most 5 s, when the server cannot be reached.
func New(ctx context.Context, serverURL string, opts Options) (*Broker, error) {
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if strings.ContainsAny(opts.Channel, " \t\r\n*>") || strings.HasPrefix(opts.Channel, ".") ||
		strings.HasSuffix(opts.Channel, ".") || strings.Contains(opts.Channel, "..") {
		return nil, fmt.Errorf("natsbroker: channel %q is not a valid NATS subject for publishing", opts.Channel)
	}
	b := &Broker{subject: opts.Channel, opts: opts, log: opts.Logger.With("broker", "nats")}
	where := redact(serverURL)

	natsOpts := []nats.Option{
		nats.Name("parley"),
		nats.Timeout(connectTimeout), // each dial and handshake, reconnections' too
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJit, reconnectJit),
		nats.ReconnectBufSize(-1), // while disconnected, publishing fails rather than piling up
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.FlusherTimeout(writeTimeout),
		nats.NoCallbacksAfterClientClose(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.log.Warn("natsbroker: lost the server; reconnecting", "url", where, "err", err)
		}),
		nats.ReconnectHandler(b.reconnected),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			b.log.Error("natsbroker: asynchronous error", "url", where, "err", err)
		}),
	}
	connected := make(chan connectResult, 1)
	go func() {
		nc, err := nats.Connect(serverURL, natsOpts...)
		connected <- connectResult{nc, err}
	}()
	var nc *nats.Conn
	timer := time.NewTimer(connectTimeout)
	defer timer.Stop()
	select {
	case r := <-connected:
		if r.err != nil {
			return nil, fmt.Errorf("natsbroker: connect to %s: %w", where, r.err)
		}
		nc = r.nc
	case <-ctx.Done():
		abandon(connected)
		return nil, fmt.Errorf("natsbroker: connect to %s: %w", where, context.Cause(ctx))
	case <-timer.C: // several servers may each take the timeout
		abandon(connected)
		return nil, fmt.Errorf("natsbroker: connect to %s: no answer within %v", where, connectTimeout)
	}
	b.nc = nc
	b.hub = eventwire.NewHub(b.log, 0)

	_, err := nc.Subscribe(b.subject, func(m *nats.Msg) { b.hub.Deliver(m.Data) })
	if err == nil {
		fctx, cancel := context.WithTimeout(ctx, flushTimeout)
		err = nc.FlushWithContext(fctx)
		cancel()
	}
	if err != nil {
		nc.Close()
		b.hub.Close()
		return nil, fmt.Errorf("natsbroker: subscribe to %q on %s: %w", b.subject, where, err)
	}
	b.queue = eventwire.NewQueue(eventwire.QueueConfig{MaxEvents: opts.QueueLimit, Logger: b.log}, b.send)
	return b, nil
}

// connectResult is what nats.Connect returned.
type connectResult struct {
	nc  *nats.Conn
	err error
}

// abandon closes the connection that a connect New gave up on may still
// make (within nats.go's own timeouts).
func abandon(connected <-chan connectResult) {
	go func() {
		if r := <-connected; r.nc != nil {
			r.nc.Close()
		}
	}()
}

// reconnected runs on nats.go's callback goroutine once it re-subscribed.
func (b *Broker) reconnected(nc *nats.Conn) {
	// The flush makes sure the server has the subscription again before
	// the node is told: what is published from now on reaches it.
	if err := nc.FlushTimeout(flushTimeout); err != nil {
		b.log.Warn("natsbroker: reconnected, but the flush failed", "err", err)
	}
	b.log.Info("natsbroker: reconnected", "url", redact(nc.ConnectedUrl()))
	if b.opts.OnReconnect != nil && !b.closed.Load() {
		b.opts.OnReconnect()
	}
}

// Publish queues ev to be sent to every node (this one included) and
// returns without waiting for the server. It fails with an EUnavailable
// parley.Error — and logs, at most once a second — when the connection to
// the server is down, when the queue is full or after Close; with
// ETooLarge when the encoded event is over the server's payload limit;
// and with ctx's error when ctx has ended.
func (b *Broker) Publish(ctx context.Context, ev *parley.Event) error {
	if ev == nil {
		return errors.New("natsbroker: publish a nil event")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("natsbroker: publish %s: %w", ev.Kind, err)
	}
	if b.closed.Load() {
		return b.refuse(ev, "broker closed", eventwire.ErrQueueClosed)
	}
	if !b.nc.IsConnected() {
		return b.refuse(ev, "not connected to the NATS server", errNotConnected)
	}
	data, err := eventwire.Marshal(ev)
	if err != nil {
		return fmt.Errorf("natsbroker: publish: %w", err)
	}
	if limit := b.nc.MaxPayload(); int64(len(data)) > limit {
		return fmt.Errorf("natsbroker: publish %s: %w", ev.Kind,
			parley.Errorf(parley.ETooLarge, "event of %d bytes is over the NATS server's limit of %d", len(data), limit))
	}
	if err := b.queue.Put(data); err != nil {
		return b.refuse(ev, "cannot publish now", err)
	}
	return nil
}

var errNotConnected = errors.New("natsbroker: not connected")

// refuse logs (at most once a second) and returns an EUnavailable error.
func (b *Broker) refuse(ev *parley.Event, why string, cause error) error {
	if n, ok := b.refused.Tick(); ok {
		b.log.Warn("natsbroker: publish refused", "why", why, "err", cause, "refused", n)
	}
	return fmt.Errorf("natsbroker: publish %s: %w: %w", ev.Kind,
		&parley.Error{Code: parley.EUnavailable, Message: "the cluster broker is unavailable: " + why, RetryAfter: time.Second}, cause)
}

// send is the queue's SendFunc: it hands the batch to nats.go, which
// writes it (buffered) in order.
func (b *Broker) send(_ context.Context, batch [][]byte) error {
	for i, data := range batch {
		if err := b.nc.Publish(b.subject, data); err != nil {
			return fmt.Errorf("natsbroker: publish to %q (%d of %d events of the batch sent): %w", b.subject, i, len(batch), err)
		}
	}
	return nil
}

// Subscribe calls fn for every event published on any node from now on,
// in order, on a goroutine of this subscription, until unsubscribe.
func (b *Broker) Subscribe(fn func(*parley.Event)) (unsubscribe func()) {
	return b.hub.Subscribe(fn)
}

// Ping reports whether the NATS server answers: connected, and a PING
// round trip within ctx (readiness checks).
func (b *Broker) Ping(ctx context.Context) error {
	if b.closed.Load() || !b.nc.IsConnected() {
		return fmt.Errorf("nats: not connected (%s)", b.nc.Status())
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("nats: ping: %w", err)
	}
	return nil
}

// Close sends what is queued (for at most 2 s), closes the connection and
// ends every goroutine the broker started (waiting for subscribers'
// callbacks in progress: Close must not be called from one). Publish
// fails afterwards. Calling Close again does nothing.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		b.queue.Close(ctx)
		if b.nc.IsConnected() {
			_ = b.nc.FlushWithContext(ctx) // hand what nats.go buffered to the server
		}
		cancel()
		b.nc.Close()
		b.hub.Close()
	})
	return nil
}

// redact hides a password in a server URL (or in each of a
// comma-separated list) for logs and errors.
func redact(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		if _, ok := u.User.Password(); !ok {
			u.User = url.User("REDACTED") // a bare user part is a token
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}
