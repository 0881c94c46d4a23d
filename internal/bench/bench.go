// Package bench is Parley's load generator (parley bench): subscribers
// and publishers on real WebSocket connections, speaking the native
// protocol or Socket.IO (Engine.IO 4 over WebSocket), against any Parley
// server. It measures deliveries per second, end-to-end latency (the send
// time travels in the message text), lost, duplicated and disconnected,
// and its own CPU time, so that a reader can tell who was the bottleneck.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config is one benchmark run.
type Config struct {
	URL string // the server, http(s)://host:port; several nodes of one cluster: comma-separated, subscribers spread over them
	// PublishURL, when set, is another node of the same cluster: the
	// publishers connect there and the subscribers to URL, so every
	// delivery crosses the cluster's broker.
	PublishURL  string
	Protocol    string        // "native" or "socketio"
	Subscribers int           // connections that only read
	Publishers  int           // connections that send (they also read their room); 0: the connections are held idle for Duration
	Rooms       int           // subscribers and publishers are spread over this many rooms
	Rate        float64       // messages per second in all; 0: as fast as acknowledgements allow
	Duration    time.Duration // how long publishers send
	Size        int           // message text length in bytes (at least the header)
	Concurrency int           // connections being opened at once
	Progress    io.Writer     // a line per second while sending; nil: quiet
	// ServerPID, when not 0, is the server's process on this machine: its
	// CPU time over the send phase and its resident memory are reported.
	ServerPID int
	// Direct makes the publishers send direct messages to one another
	// instead of to their room: publisher p's n-th message goes to the
	// publisher (p + 1 + n mod (publishers − 1)) mod publishers, so each
	// talks with every other in turn, and each message is delivered twice
	// (to the recipient and back to the sender, as to every one of the two
	// people's connections). With several nodes (URL, PublishURL) the
	// publishers are spread over all of them.
	Direct bool
}

// Result is what a run measured.
type Result struct {
	Config        Config  `json:"-"`
	Connections   int64   `json:"connections"`             // connections opened
	Sent          int64   `json:"sent"`                    // messages acknowledged
	Refused       int64   `json:"refused"`                 // sends answered with an error
	FirstRefusal  string  `json:"first_refusal,omitempty"` // the server's answer to the first of them
	Expected      int64   `json:"expected"`                // deliveries that should have happened
	Delivered     int64   `json:"delivered"`               // deliveries counted (duplicates included)
	Lost          int64   `json:"lost"`                    // expected but never delivered (negative: more arrived than was acknowledged, see Unacked)
	Unacked       int64   `json:"unacked"`                 // sends still without an answer when the run ended (an overloaded server)
	Duplicated    int64   `json:"duplicated"`              // delivered more than once
	Disconnected  int64   `json:"disconnected"`            // connections the server ended
	Seconds       float64 `json:"seconds"`                 // from the first send to the last delivery
	DeliveriesSec float64 `json:"deliveries_per_s"`
	P50, P90, P99 float64 `json:"-"`
	Max           float64 `json:"-"`
	LatencyMS     struct {
		P50 float64 `json:"p50"`
		P90 float64 `json:"p90"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	} `json:"latency_ms"`
	// SentPerSec is messages acknowledged (stored) per second of sending;
	// AckMS the time from a send to its ack.
	SentPerSec float64 `json:"sent_per_s"`
	AckMS      struct {
		P50 float64 `json:"p50"`
		P90 float64 `json:"p90"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	} `json:"ack_ms"`
	OwnCPUSeconds float64    `json:"bench_cpu_s"` // this process, user + system
	Server        *ServerUse `json:"server,omitempty"`
}

// ServerUse is what the server process used (Config.ServerPID).
type ServerUse struct {
	// CPUSeconds is user + system time from the first send to the end of
	// the drain (connecting excluded); for an idle run, over the hold.
	CPUSeconds        float64 `json:"cpu_s"`
	CPUPerDeliveryUS  float64 `json:"cpu_per_delivery_us"`
	RSSBeforeKiB      int64   `json:"rss_before_kib"`    // before the first connection
	RSSConnectedKiB   int64   `json:"rss_connected_kib"` // all connected, before sending
	RSSEndKiB         int64   `json:"rss_end_kib"`       // after the drain (or the idle hold)
	RSSPerConnKiB     float64 `json:"rss_per_conn_kib"`  // (end − before) ÷ connections
	ConnectCPUSeconds float64 `json:"connect_cpu_s"`     // spent accepting the connections
}

func (c *Config) defaults() error {
	if c.Protocol == "" {
		c.Protocol = "native"
	}
	if c.Protocol != "native" && c.Protocol != "socketio" {
		return fmt.Errorf("protocol %q: want native or socketio", c.Protocol)
	}
	if c.Subscribers < 0 || c.Publishers < 0 || c.Subscribers+c.Publishers == 0 {
		return errors.New("want some connections, and no negative counts")
	}
	if c.Direct && c.Publishers < 2 {
		return errors.New("direct messages want at least 2 publishers")
	}
	if c.Rooms < 1 {
		c.Rooms = 1
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Concurrency < 1 {
		c.Concurrency = 100
	}
	if c.Size < headerLen {
		c.Size = headerLen
	}
	return nil
}

// headerLen is room for the text's header: "pb <pub> <n> <unixnano> ".
const headerLen = 48

// endpoint is one connection, of either protocol.
type endpoint interface {
	// hello says hello as nick and joins room; it returns once both are
	// answered. Every message event of the room goes to onMessage.
	hello(ctx context.Context, nick, room string) error
	// send posts text to room; done is called with the answer: nil for
	// an ack, the error frame (valid during the call) for a refusal.
	send(room, text string, done func(refusal []byte)) error
	// direct sends text to the person nicknamed to, as send does.
	direct(to, text string, done func(refusal []byte)) error
	close()
}

// Run runs one benchmark.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var targets []*url.URL
	var dials []func(context.Context, string, string) (net.Conn, error)
	for _, t := range strings.Split(cfg.URL, ",") {
		u, err := url.Parse(strings.TrimSpace(t))
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("target %q: want http://host:port", t)
		}
		targets = append(targets, u)
		dials = append(dials, dialer(u, cfg.Subscribers+cfg.Publishers))
	}
	u, dial := targets[0], dials[0]
	pu, pdial := u, dial
	var err error
	if cfg.PublishURL != "" {
		if pu, err = url.Parse(cfg.PublishURL); err != nil || pu.Host == "" {
			return nil, fmt.Errorf("publish target %q: want http://host:port", cfg.PublishURL)
		}
		pdial = dialer(pu, cfg.Publishers)
	}
	// Direct messages go between publishers: on several nodes they are
	// spread over all of them, so that the messages cross the broker.
	pubTargets, pubDials := targets, dials
	if cfg.PublishURL != "" {
		pubTargets = append([]*url.URL{pu}, targets...)
		pubDials = append([]func(context.Context, string, string) (net.Conn, error){pdial}, dials...)
	}
	rooms := make([]string, cfg.Rooms)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("bench%d", i)
	}
	run := &run{cfg: cfg, start: make(chan struct{})}
	run.perRoom = make([]roomCount, cfg.Rooms)

	var srv0, srv1, srv2 procSample
	if cfg.ServerPID != 0 {
		if srv0, err = sampleProc(cfg.ServerPID); err != nil {
			return nil, err
		}
	}

	// Connect: subscribers first, then publishers (who read their room too).
	n := cfg.Subscribers + cfg.Publishers
	eps := make([]endpoint, n)
	recs := make([]*receiver, n)
	sem := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	nicks := make([]string, n)
	for i := range nicks {
		nicks[i] = fmt.Sprintf("b%s-%d", tag, i)
	}
	for i := 0; i < n; i++ {
		room := i % cfg.Rooms
		recs[i] = newReceiver(run, room)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			eu, edial := targets[i%len(targets)], dials[i%len(targets)]
			switch p := i - cfg.Subscribers; {
			case p >= 0 && cfg.Direct && len(pubTargets) > 1:
				eu, edial = pubTargets[p%len(pubTargets)], pubDials[p%len(pubDials)]
			case p >= 0:
				eu, edial = pu, pdial
			}
			ep := newEndpoint(cfg.Protocol, eu, edial, recs[i].message, func() { run.disconnected.Add(1) })
			if err := ep.hello(ctx, nicks[i], rooms[room]); err != nil {
				firstErr.CompareAndSwap(nil, fmt.Errorf("connection %d: %w", i, err))
				return
			}
			eps[i] = ep
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		for _, ep := range eps {
			if ep != nil {
				ep.close()
			}
		}
		return nil, err
	}
	defer func() {
		for _, ep := range eps {
			ep.close()
		}
	}()
	for i := range recs {
		run.perRoom[recs[i].room].members++
	}

	if cfg.ServerPID != 0 {
		if srv1, err = sampleProc(cfg.ServerPID); err != nil {
			return nil, err
		}
	}

	// Send.
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	begin := time.Now()
	run.begin.Store(begin.UnixNano())
	sendCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	progress := run.progress(sendCtx)
	pubs := eps[cfg.Subscribers:]
	var sendWG sync.WaitGroup
	for p, ep := range pubs {
		sendWG.Add(1)
		go func() {
			defer sendWG.Done()
			run.publish(sendCtx, ep, cfg.Subscribers+p, rooms, nicks[cfg.Subscribers:], p)
		}()
	}
	sendWG.Wait()
	if len(pubs) == 0 {
		<-sendCtx.Done() // idle: hold the connections for the duration
	}
	// The last sends' acks: until they are in, expected is not known.
	for deadline := time.Now().Add(10 * time.Second); run.pending.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	sendEnd := time.Now()
	// Drain: wait until everything expected arrived, or 5 s of nothing new.
	last, still := run.delivered.Load(), time.Now()
	for run.delivered.Load() < run.expected() && time.Since(still) < 5*time.Second {
		time.Sleep(20 * time.Millisecond)
		if d := run.delivered.Load(); d != last {
			last, still = d, time.Now()
		}
	}
	<-progress
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if cfg.ServerPID != 0 {
		if srv2, err = sampleProc(cfg.ServerPID); err != nil {
			return nil, err
		}
	}

	res := &Result{Config: cfg, Connections: int64(n), Sent: run.sent.Load(), Refused: run.refused.Load(), Delivered: run.delivered.Load(), Unacked: run.pending.Load(),
		Disconnected: run.disconnected.Load(), Expected: run.expected()}
	var hist histogram
	distinct := int64(0)
	for _, r := range recs { // readers still run: late copies count as duplicates
		r.mu.Lock()
		hist.merge(&r.hist)
		distinct += r.distinct
		res.Duplicated += r.dups
		r.mu.Unlock()
	}
	res.Lost = res.Expected - distinct
	res.FirstRefusal, _ = run.firstRefusal.Load().(string)
	if res.Sent == 0 && res.Refused > 0 {
		return nil, fmt.Errorf("the server refused every send (%d); the first answer: %s", res.Refused, res.FirstRefusal)
	}
	end := time.Unix(0, run.lastDelivery.Load())
	if end.Before(sendEnd) {
		end = sendEnd
	}
	res.Seconds = end.Sub(begin).Seconds()
	res.DeliveriesSec = float64(res.Delivered) / res.Seconds
	res.LatencyMS.P50, res.LatencyMS.P90 = hist.quantile(0.5), hist.quantile(0.9)
	res.LatencyMS.P99, res.LatencyMS.Max = hist.quantile(0.99), hist.max()
	res.OwnCPUSeconds = cpu(ru1) - cpu(ru0)
	res.SentPerSec = float64(res.Sent) / sendEnd.Sub(begin).Seconds()
	run.ackMu.Lock()
	res.AckMS.P50, res.AckMS.P90 = run.acks.quantile(0.5), run.acks.quantile(0.9)
	res.AckMS.P99, res.AckMS.Max = run.acks.quantile(0.99), run.acks.max()
	run.ackMu.Unlock()
	if cfg.ServerPID != 0 {
		u := &ServerUse{CPUSeconds: srv2.cpu - srv1.cpu, ConnectCPUSeconds: srv1.cpu - srv0.cpu,
			RSSBeforeKiB: srv0.rssKiB, RSSConnectedKiB: srv1.rssKiB, RSSEndKiB: srv2.rssKiB,
			RSSPerConnKiB: float64(srv2.rssKiB-srv0.rssKiB) / float64(n)}
		if res.Delivered > 0 {
			u.CPUPerDeliveryUS = u.CPUSeconds / float64(res.Delivered) * 1e6
		}
		res.Server = u
	}
	return res, nil
}

func cpu(ru syscall.Rusage) float64 {
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// run is the shared state of one run.
type run struct {
	cfg          Config
	start        chan struct{}
	begin        atomic.Int64
	sent         atomic.Int64
	refused      atomic.Int64
	firstRefusal atomic.Value // string: the server's answer to the first send refused
	pending      atomic.Int64 // sends not acknowledged yet
	delivered    atomic.Int64
	disconnected atomic.Int64
	lastDelivery atomic.Int64
	perRoom      []roomCount
	directSent   atomic.Int64 // direct messages acknowledged: each is delivered twice
	ackMu        sync.Mutex
	acks         histogram // send → ack, ms
}

// roomCount: how many read a room, and how many messages it got.
type roomCount struct {
	members int64
	sent    atomic.Int64
}

func (r *run) expected() int64 {
	var n int64
	for i := range r.perRoom {
		n += r.perRoom[i].members * r.perRoom[i].sent.Load()
	}
	return n + 2*r.directSent.Load()
}

// publish sends from publisher p (of the publishers nicknamed pubNicks)
// until ctx ends, at its share of the rate, or as fast as its acks come
// back: to its room, or (Config.Direct) to the other publishers in turn.
func (r *run) publish(ctx context.Context, ep endpoint, conn int, rooms, pubNicks []string, p int) {
	room, pubs := conn%len(rooms), len(pubNicks)
	var interval time.Duration
	if r.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(pubs) / r.cfg.Rate)
	}
	pad := make([]byte, r.cfg.Size)
	for i := range pad {
		pad[i] = 'x'
	}
	inflight := make(chan struct{}, 64) // as fast as possible: a window of acks
	next := time.Now()
	for n := 0; ctx.Err() == nil; n++ {
		if interval > 0 {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return
				}
			}
		} else {
			select {
			case inflight <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
		text := fmt.Sprintf("pb %d %d %d ", p, n, time.Now().UnixNano())
		text += string(pad[:max(0, r.cfg.Size-len(text))])
		r.pending.Add(1)
		sentAt := time.Now()
		send, to := ep.send, rooms[room]
		if r.cfg.Direct {
			send, to = ep.direct, pubNicks[(p+1+n%(pubs-1))%pubs]
		}
		err := send(to, text, func(refusal []byte) {
			ms := float64(time.Since(sentAt).Microseconds()) / 1000
			r.ackMu.Lock()
			r.acks.add(ms)
			r.ackMu.Unlock()
			r.pending.Add(-1)
			switch {
			case refusal != nil:
				if r.refused.Add(1) == 1 {
					r.firstRefusal.Store(string(refusal))
				}
			case r.cfg.Direct:
				r.sent.Add(1)
				r.directSent.Add(1)
			default:
				r.sent.Add(1)
				r.perRoom[room].sent.Add(1)
			}
			if interval == 0 {
				<-inflight
			}
		})
		if err != nil {
			r.pending.Add(-1)
			return
		}
	}
}

// progress prints a line a second until ctx ends; the channel closes then.
func (r *run) progress(ctx context.Context) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if r.cfg.Progress == nil {
			<-ctx.Done()
			return
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		prev := int64(0)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				d := r.delivered.Load()
				fmt.Fprintf(r.cfg.Progress, "%6.0fs  sent %d  delivered %d  (%d/s)  disconnected %d\n",
					time.Since(time.Unix(0, r.begin.Load())).Seconds(), r.sent.Load(), d, d-prev, r.disconnected.Load())
				prev = d
			}
		}
	}()
	return done
}

// dialer spreads connections over 127.0.0.x source addresses when the
// target is loopback and there are more than one address's ports can
// carry comfortably.
func dialer(u *url.URL, conns int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	host := u.Hostname()
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	const perSource = 20000
	if ip == nil || !ip.IsLoopback() || ip.To4() == nil || conns <= perSource {
		d := &net.Dialer{Timeout: 30 * time.Second}
		return d.DialContext
	}
	var next atomic.Int64
	sources := (conns + perSource - 1) / perSource
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		i := next.Add(1) % int64(sources)
		d := &net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}}
		return d.DialContext(ctx, network, addr)
	}
}
