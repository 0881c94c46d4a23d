// Package redisbroker is a parley.Broker on Redis publish/subscribe: every
// node publishes its events on one Redis channel and subscribes to it, so
// each event reaches every node, the publisher's own included. Events are
// encoded with internal/eventwire.
//
// # Design
//
// Two go-redis clients per Broker, one for each direction:
//
//   - Publishing: Publish encodes the event on the caller's goroutine and
//     appends it to a bounded queue (eventwire.Queue: 16,384 events or
//     64 MiB by default) without blocking. One goroutine takes the queue
//     in order and sends what it finds as one pipeline of PUBLISH commands
//     (up to 256 events or 1 MiB), waiting for the replies before the next
//     pipeline. Only that goroutine publishes, and Redis runs a pipeline's
//     commands in order, so events published one after another — from any
//     goroutine — reach the server, and every subscriber, in that order;
//     go-redis's pool could otherwise send concurrent commands over
//     different connections. Retries are off: a PUBLISH whose reply was
//     lost may have been delivered, and repeating it would duplicate.
//     After every reconnection (below) the goroutine starts over with a
//     fresh go-redis client, so no connection to the old server, and no
//     memory of the dials that failed while it was down, is left.
//   - Receiving: one dedicated pub/sub connection (a go-redis PubSub),
//     subscribed in New (the subscription is confirmed before New
//     returns). One goroutine reads it and gives each event, decoded once,
//     to the eventwire.Hub, which runs every parley subscription's
//     callbacks in order on a goroutine of its own.
//
// # When the server is away
//
// New fails (within its ctx, at most 5 s) when the server cannot be
// reached: a node refuses to start. Afterwards the receiving goroutine
// notices a broken connection at once (go-redis's default dialer also
// turns TCP keep-alive on: an idle, silent peer is given up after about
// 45 s) and
// reconnects by itself, forever, every 50 ms to 1 s (backing off, with
// jitter); go-redis re-subscribes, and when Redis confirms the
// subscription Options.OnReconnect is called. While that connection is
// down, Publish fails at once with an EUnavailable parley.Error and
// nothing is kept for later, so delivery is at most once across an
// outage; a node fills the gap from its store when OnReconnect tells it
// to. Events queued when the link broke are lost, and logged. In normal
// operation nothing is lost or duplicated.
package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/eventwire"
)

// DefaultChannel is the Redis channel the nodes share unless
// Options.Channel names another.
const DefaultChannel = "parley.events"

// Timings of the connections.
const (
	connectTimeout = 5 * time.Second // New's bound, when its ctx allows more
	minBackoff     = 50 * time.Millisecond
	maxBackoff     = time.Second
	sendTimeout    = 5 * time.Second // one pipeline of PUBLISH commands
	// healthEvery: a subscription quiet this long is sent a PING; one that
	// answers nothing, not even that, for as long again is given up (the
	// server hangs, or its host is gone without closing the connection,
	// which TCP alone would notice only after minutes) and opened anew.
	healthEvery  = 2 * time.Second
	drainTimeout = 2 * time.Second // Close: sending what is queued
)

// Options configures a Broker.
type Options struct {
	// Channel is the Redis channel every node publishes on and subscribes
	// to; DefaultChannel if empty. Nodes of one cluster must share it.
	Channel string
	// Logger receives the broker's warnings and errors (slog.Default() if
	// nil).
	Logger *slog.Logger
	// OnReconnect, if set, is called after the connection to the server
	// came back and the subscription is live again, so the node can catch
	// up from its store on what it missed. It runs on a goroutine of its
	// own (never a subscriber's), one call at a time; reconnections while
	// it runs are folded into one more call.
	OnReconnect func()
	// QueueLimit is how many events may wait to be sent;
	// eventwire.DefaultQueueEvents if 0.
	QueueLimit int
}

var _ parley.Broker = (*Broker)(nil)

// Broker is a parley.Broker on Redis. Create it with New; Close it.
type Broker struct {
	ropt   redis.Options // parsed from the URL, for new publishing clients
	client *redis.Client // for the subscription
	// ps is the subscription; receive replaces it when the server falls
	// silent (renew), under psMu, which Close takes to close it.
	ps   *redis.PubSub
	psMu sync.Mutex
	// pub publishes; only the queue's goroutine uses it (and Close, after
	// that goroutine ended). It is replaced by a fresh client after every
	// reconnection (pubGen behind gen), which drops connections to the old
	// server and go-redis's memory of failed dials: its pool, after enough
	// of them, refuses to dial for up to a second after the server is back.
	pub     *redis.Client
	pubGen  int64
	gen     atomic.Int64 // bumped by receive on every reconnection
	channel string
	opts    Options
	log     *slog.Logger
	where   string // the server, for logs
	hub     *eventwire.Hub
	queue   *eventwire.Queue

	up         atomic.Bool // the subscription is live
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	kick       chan struct{} // capacity 1: call OnReconnect
	closed     atomic.Bool
	closeOnce  sync.Once
	refused    eventwire.RateLog
	serverErrs eventwire.RateLog
}

// New connects to the Redis server at serverURL (redis://[user:password@]
// host:port/db, rediss:// for TLS, unix://…; see redis.ParseURL) and
// subscribes to the channel. It fails, within ctx and at most 5 s, when
// the server cannot be reached.
func New(ctx context.Context, serverURL string, opts Options) (*Broker, error) {
	where := redact(serverURL)
	ropt, err := redis.ParseURL(serverURL)
	if err != nil {
		return nil, fmt.Errorf("redisbroker: server URL %s: %w", where, err)
	}
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Broker{
		ropt:    *ropt,
		channel: opts.Channel,
		opts:    opts,
		log:     opts.Logger.With("broker", "redis"),
		where:   where,
		kick:    make(chan struct{}, 1),
	}
	b.client = b.newClient()
	// go-redis bounds its handshake with its own timeouts, not with ctx:
	// connect on a goroutine so that New returns when ctx ends.
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	connected := make(chan error, 1)
	go func() { connected <- b.connect(cctx) }()
	select {
	case err = <-connected:
	case <-cctx.Done():
		go func() { // bounded by go-redis's dial and read timeouts
			<-connected
			b.closeConnections()
		}()
		return nil, fmt.Errorf("redisbroker: connect to %s: %w", where, context.Cause(cctx))
	}
	if err != nil {
		b.closeConnections()
		return nil, fmt.Errorf("redisbroker: connect to %s: %w", where, err)
	}
	b.up.Store(true)
	b.pub = b.newClient()

	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.hub = eventwire.NewHub(b.log, 0)
	b.queue = eventwire.NewQueue(eventwire.QueueConfig{MaxEvents: opts.QueueLimit, Logger: b.log}, b.send)
	b.wg.Add(1)
	go b.receive()
	if opts.OnReconnect != nil {
		b.wg.Add(1)
		go b.notify()
	}
	return b, nil
}

// connect checks that the server answers, subscribes, and waits for Redis
// to confirm the subscription.
func (b *Broker) connect(ctx context.Context) error {
	if err := b.client.Ping(ctx).Err(); err != nil {
		return err
	}
	b.ps = b.client.Subscribe(ctx, b.channel)
	if err := b.confirmSubscription(ctx); err != nil {
		return fmt.Errorf("subscribe to %q: %w", b.channel, err)
	}
	return nil
}

// closeConnections closes what connect opened, after a failure.
func (b *Broker) closeConnections() {
	if b.ps != nil {
		_ = b.ps.Close()
	}
	_ = b.client.Close()
}

// confirmSubscription waits for Redis to confirm the subscription.
func (b *Broker) confirmSubscription(ctx context.Context) error {
	for {
		msg, err := b.ps.Receive(ctx)
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == b.channel {
				return nil
			}
		case *redis.Message:
			return errors.New("redisbroker: a message arrived before the subscription was confirmed")
		}
	}
}

// receive reads the pub/sub connection until Close, reconnecting (through
// go-redis, which re-subscribes) whenever it breaks.
func (b *Broker) receive() {
	defer b.wg.Done()
	var backoff time.Duration
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	pinged := false // the subscription was quiet and a PING is out
	for {
		msg, err := b.ps.ReceiveTimeout(b.ctx, healthEvery)
		if b.ctx.Err() != nil {
			return
		}
		if isTimeout(err) {
			if !pinged {
				pinged = true
				_ = b.ps.Ping(b.ctx) // a failed write shows in the next Receive
				continue
			}
			err = errSilent
		}
		pinged = false
		if err != nil {
			var rerr redis.Error
			switch {
			case errors.As(err, &rerr): // the server answered with an error; the link is fine
				if n, ok := b.serverErrs.Tick(); ok {
					b.log.Error("redisbroker: error from the server on the subscription", "err", err, "errors", n)
				}
			case b.up.Swap(false):
				b.log.Warn("redisbroker: lost the server; reconnecting", "url", b.where, "err", err)
			}
			if err == errSilent { // after Publish learnt of it: dialling may take a while
				b.renew()
			}
			// The next Receive dials again (if the link broke); wait a
			// little first so a server that is down is not hammered.
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			timer.Reset(backoff/2 + rand.N(backoff/2+1))
			select {
			case <-timer.C:
			case <-b.ctx.Done():
				timer.Stop()
				return
			}
			continue
		}
		backoff = 0
		switch m := msg.(type) {
		case *redis.Message:
			b.hub.Deliver([]byte(m.Payload))
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == b.channel && !b.up.Load() {
				// A fresh publishing client first: what is published from
				// now on must not meet a connection to the old server.
				b.gen.Add(1)
				b.up.Store(true)
				b.log.Info("redisbroker: reconnected", "url", b.where)
				select {
				case b.kick <- struct{}{}:
				default:
				}
			}
		}
	}
}

// errSilent is why a subscription that answered nothing, a PING
// included, for 2 × healthEvery was given up.
var errSilent = fmt.Errorf("no answer from the server within %v, not even to a ping", 2*healthEvery)

// isTimeout reports whether err is a read that timed out.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// renew replaces the subscription by a new one on a new connection (go-redis
// would go on waiting on the old one, whose server answers nothing) and
// closes the old. Only receive calls it.
func (b *Broker) renew() {
	b.psMu.Lock()
	old := b.ps
	if b.ctx.Err() == nil { // else Close has taken, or will take, b.ps to close it
		b.ps = b.client.Subscribe(b.ctx, b.channel)
	}
	b.psMu.Unlock()
	if old != b.ps {
		_ = old.Close()
	}
}

// notify calls OnReconnect when receive asks for it.
func (b *Broker) notify() {
	defer b.wg.Done()
	for {
		select {
		case <-b.kick:
			b.opts.OnReconnect()
		case <-b.ctx.Done():
			return
		}
	}
}

// Publish queues ev to be sent to every node (this one included) and
// returns without waiting for the server. It fails with an EUnavailable
// parley.Error — and logs, at most once a second — when the connection to
// the server is down, when the queue is full or after Close, and with
// ctx's error when ctx has ended.
func (b *Broker) Publish(ctx context.Context, ev *parley.Event) error {
	if ev == nil {
		return errors.New("redisbroker: publish a nil event")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisbroker: publish %s: %w", ev.Kind, err)
	}
	if b.closed.Load() {
		return b.refuse(ev, "broker closed", eventwire.ErrQueueClosed)
	}
	if !b.up.Load() {
		return b.refuse(ev, "not connected to the Redis server", errNotConnected)
	}
	data, err := eventwire.Marshal(ev)
	if err != nil {
		return fmt.Errorf("redisbroker: publish: %w", err)
	}
	if err := b.queue.Put(data); err != nil {
		return b.refuse(ev, "cannot publish now", err)
	}
	return nil
}

var errNotConnected = errors.New("redisbroker: not connected")

// refuse logs (at most once a second) and returns an EUnavailable error.
func (b *Broker) refuse(ev *parley.Event, why string, cause error) error {
	if n, ok := b.refused.Tick(); ok {
		b.log.Warn("redisbroker: publish refused", "why", why, "err", cause, "refused", n)
	}
	return fmt.Errorf("redisbroker: publish %s: %w: %w", ev.Kind,
		&parley.Error{Code: parley.EUnavailable, Message: "the cluster broker is unavailable: " + why, RetryAfter: time.Second}, cause)
}

// newClient returns a go-redis client on the parsed options (a copy of
// them: NewClient fills in its defaults).
func (b *Broker) newClient() *redis.Client {
	opt := b.ropt
	opt.MaxRetries = -1 // a repeated PUBLISH could be delivered twice
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return redis.NewClient(&opt)
}

// send is the queue's SendFunc: one PUBLISH, or a pipeline of them. It
// drops the batch without trying while the subscription is down: the
// server is likely gone, and every failed dial counts in go-redis.
func (b *Broker) send(ctx context.Context, batch [][]byte) error {
	if !b.up.Load() {
		return errNotConnected
	}
	if gen := b.gen.Load(); gen != b.pubGen {
		_ = b.pub.Close()
		b.pub, b.pubGen = b.newClient(), gen
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if len(batch) == 1 {
		if err := b.pub.Publish(ctx, b.channel, batch[0]).Err(); err != nil {
			return fmt.Errorf("redisbroker: publish to %q: %w", b.channel, err)
		}
		return nil
	}
	pipe := b.pub.Pipeline()
	for _, data := range batch {
		pipe.Publish(ctx, b.channel, data)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redisbroker: publish %d events to %q: %w", len(batch), b.channel, err)
	}
	return nil
}

// Subscribe calls fn for every event published on any node from now on,
// in order, on a goroutine of this subscription, until unsubscribe.
func (b *Broker) Subscribe(fn func(*parley.Event)) (unsubscribe func()) {
	return b.hub.Subscribe(fn)
}

// Ping reports whether the Redis server answers a PING within ctx
// (readiness checks).
func (b *Broker) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return errors.New("redis: broker closed")
	}
	if err := b.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// Close sends what is queued (for at most 2 s), closes the connections
// and ends every goroutine the broker started (waiting for a call of
// OnReconnect or of a subscriber's callback in progress: Close must not be
// called from one). Publish fails afterwards. Calling Close again does
// nothing and returns nil.
func (b *Broker) Close() error {
	var err error
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		b.queue.Close(ctx)
		cancel()
		b.cancel()
		b.psMu.Lock()
		ps := b.ps
		b.psMu.Unlock()
		psErr := ps.Close()
		b.wg.Wait()
		b.hub.Close()
		pubErr := b.pub.Close()
		if cErr := b.client.Close(); cErr != nil || psErr != nil || pubErr != nil {
			err = fmt.Errorf("redisbroker: close: %w", errors.Join(psErr, pubErr, cErr))
		}
	})
	return err
}

// redact hides the password of a server URL for logs and errors.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.LastIndexByte(s, '@'); i >= 0 {
			return "…@" + s[i+1:]
		}
		return s
	}
	return u.Redacted()
}
