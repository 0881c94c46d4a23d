// Package metrics owns Parley's Prometheus metrics: their names (all
// prefixed parley_), types, labels, help texts and histogram buckets. It
// is, with cmd/parley, the only importer of client_golang.
//
// Two kinds of numbers feed it. What happens at most once per command,
// stored message or fan-out batch is reported through the methods of
// Metrics, which implements node.Metrics (labels resolved once, in New).
// What the hot paths count — events queued on connections, open
// connections, slow-consumer closes, broker failures — stays a plain atomic
// counter in the package that counts it, and Observe registers functions
// that read those counters at scrape time, so fan-out costs one atomic add
// per batch and nothing more.
package metrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/parley-chat/parley"
)

// Ops are the command types counted under their own op label; a frame
// that is not one of them (undecodable, or of a type the server does not
// know) is counted as "invalid".
var Ops = []parley.Op{
	parley.OpHello, parley.OpJoin, parley.OpLeave, parley.OpRooms, parley.OpSend, parley.OpDirect,
	parley.OpHistory, parley.OpPresence, parley.OpTyping, parley.OpResume, parley.OpConversations,
}

// Codes are the error codes counted under their own code label; any other
// is counted as "other".
var Codes = []string{
	parley.EBadJSON, parley.EUnknownType, parley.EMissingField, parley.EInvalid, parley.ETooLarge,
	parley.ERateLimited, parley.ENotAuthenticated, parley.EAlreadyHello, parley.ENicknameTaken,
	parley.EBadToken, parley.EUnauthorized, parley.EForbidden, parley.ENotJoined, parley.EUnknownUser,
	parley.ENotFound, parley.EUnavailable, parley.EInternal,
}

// Label values for what is not in Ops or Codes.
const (
	OpInvalid = "invalid" // a frame that is not a command of a known type
	CodeOther = "other"   // an error code not in Codes
)

// Metrics is the set of Parley's metrics in one registry. Its methods are
// safe for concurrent use and never block.
type Metrics struct {
	reg prometheus.Registerer

	commands       map[parley.Op]prometheus.Counter
	invalid        prometheus.Counter
	errors         map[string]prometheus.Counter
	otherErrors    prometheus.Counter
	stored         prometheus.Counter
	storeLatency   prometheus.Histogram
	fanoutLatency  prometheus.Histogram
	fanoutBatchLen prometheus.Histogram
}

// New creates the metrics and registers them, with Go's runtime and the
// process's collectors, in reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{reg: reg, commands: map[parley.Op]prometheus.Counter{}, errors: map[string]prometheus.Counter{}}
	commands := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_commands_total",
		Help: "Commands received from clients, by command type (op); invalid: a frame that was not a command of a known type.",
	}, []string{"op"})
	for _, op := range Ops {
		m.commands[op] = commands.WithLabelValues(string(op))
	}
	m.invalid = commands.WithLabelValues(OpInvalid)
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_errors_total",
		Help: "Error frames sent to clients, by error code.",
	}, []string{"code"})
	for _, code := range Codes {
		m.errors[code] = errs.WithLabelValues(code)
	}
	m.otherErrors = errs.WithLabelValues(CodeOther)
	m.stored = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "parley_messages_stored_total",
		Help: "Messages (room and direct) newly stored; a resent client_id is not counted again.",
	})
	m.storeLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "parley_store_append_duration_seconds",
		Help:    "Time from handing a message to the store to its commit (successful or not).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15), // 0.5 ms … 8 s
	})
	m.fanoutLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "parley_fanout_duration_seconds",
		Help:    "Per room fan-out batch: time from the oldest event entering the room's fan-out queue to the batch queued on every local member.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 15), // 0.1 ms … 1.6 s
	})
	m.fanoutBatchLen = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "parley_fanout_batch_events",
		Help:    "Events per room fan-out batch.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 … 512
	})
	for _, c := range []prometheus.Collector{
		commands, errs, m.stored, m.storeLatency, m.fanoutLatency, m.fanoutBatchLen,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// Command counts a command received (node.Metrics).
func (m *Metrics) Command(op parley.Op) {
	if c, ok := m.commands[op]; ok {
		c.Inc()
		return
	}
	m.invalid.Inc()
}

// Error counts an error frame sent to a client (node.Metrics).
func (m *Metrics) Error(code string) {
	if c, ok := m.errors[code]; ok {
		c.Inc()
		return
	}
	m.otherErrors.Inc()
}

// Appended records a message append (node.Metrics).
func (m *Metrics) Appended(took time.Duration, stored bool) {
	m.storeLatency.Observe(took.Seconds())
	if stored {
		m.stored.Inc()
	}
}

// FannedOut records a room's fan-out batch (node.Metrics).
func (m *Metrics) FannedOut(took time.Duration, events int) {
	m.fanoutLatency.Observe(took.Seconds())
	m.fanoutBatchLen.Observe(float64(events))
}

// Transport is what Observe reads of one client endpoint.
type Transport struct {
	Name          string       // the transport label: "ws", "socketio"
	Open          func() int64 // connections open now
	SlowConsumers func() int64 // connections closed because their outbox overflowed, ever
}

// Sources are the counters kept by other packages, read at scrape time.
// A nil func is not registered.
type Sources struct {
	Transports      []Transport
	Delivered       func() int64 // event frames queued on connections, ever
	PublishFailures func() int64 // events the broker failed to take, ever
	Nodes           func() int   // nodes in the cluster known to this one, itself included
}

// Observe registers the metrics read from src.
func (m *Metrics) Observe(src Sources) error {
	var cs []prometheus.Collector
	for _, t := range src.Transports {
		labels := prometheus.Labels{"transport": t.Name}
		if t.Open != nil {
			open := t.Open
			cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "parley_connections", Help: "Client connections open now, by transport.", ConstLabels: labels,
			}, func() float64 { return float64(open()) }))
		}
		if t.SlowConsumers != nil {
			slow := t.SlowConsumers
			cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "parley_slow_consumer_closes_total",
				Help:        "Connections closed because their outbox overflowed (the client fell behind: WebSocket close 4000), by transport.",
				ConstLabels: labels,
			}, func() float64 { return float64(slow()) }))
		}
	}
	if f := src.Delivered; f != nil {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "parley_events_delivered_total",
			Help: "Event frames queued on client connections: one per event per connection.",
		}, func() float64 { return float64(f()) }))
	}
	if f := src.PublishFailures; f != nil {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "parley_broker_publish_failures_total",
			Help: "Events the broker failed to hand to the other nodes (they catch up from the store).",
		}, func() float64 { return float64(f()) }))
	}
	if f := src.Nodes; f != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_cluster_nodes",
			Help: "Nodes of the cluster this node hears from, itself included (1: alone).",
		}, func() float64 { return float64(f()) }))
	}
	var errs []error
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	return nil
}
