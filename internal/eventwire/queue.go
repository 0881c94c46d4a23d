package eventwire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Defaults of QueueConfig.
const (
	DefaultQueueEvents = 16384    // events waiting to be sent
	DefaultQueueBytes  = 64 << 20 // their encoded bytes
	DefaultBatchEvents = 256      // events handed to send at once
	DefaultBatchBytes  = 1 << 20  // their bytes (a larger event goes alone)
)

// Errors of Queue.Put.
var (
	ErrQueueFull   = errors.New("eventwire: publish queue full")
	ErrQueueClosed = errors.New("eventwire: publish queue closed")
)

// QueueConfig bounds a Queue. Zero fields take the defaults above.
type QueueConfig struct {
	MaxEvents   int // events queued or being sent
	MaxBytes    int // their bytes
	BatchEvents int // at most this many events per call of send
	BatchBytes  int // and about this many bytes
	Logger      *slog.Logger
}

// SendFunc sends a batch of encoded events, in order, to the server. An
// error means the batch (or what of it was not sent) is lost: the Queue
// logs it and goes on with the next batch. ctx ends when the Queue is
// closed and gives up on what is left.
type SendFunc func(ctx context.Context, batch [][]byte) error

// Queue is the bounded queue in front of a broker's one publishing path.
// Put never blocks: it appends the payload, or fails when the queue is
// full (by events or bytes) or closed. One goroutine takes what is queued,
// in order, and calls send with batches of it — so events queued one
// after another reach the server in that order, whichever goroutines
// queued them, and a burst goes out in few round trips.
type Queue struct {
	cfg  QueueConfig
	send SendFunc
	log  *slog.Logger

	mu      sync.Mutex
	items   [][]byte // waiting, oldest first
	spare   [][]byte
	events  int // queued or being sent
	bytes   int
	closing bool
	wake    chan struct{} // capacity 1

	ctx    context.Context // ends when Close gives up on what is left
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine ends
	failed RateLog
	lost   int // events lost since the last log line; the goroutine's
}

// NewQueue starts a Queue that hands batches to send.
func NewQueue(cfg QueueConfig, send SendFunc) *Queue {
	setDefault(&cfg.MaxEvents, DefaultQueueEvents)
	setDefault(&cfg.MaxBytes, DefaultQueueBytes)
	setDefault(&cfg.BatchEvents, DefaultBatchEvents)
	setDefault(&cfg.BatchBytes, DefaultBatchBytes)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	q := &Queue{cfg: cfg, send: send, log: cfg.Logger, wake: make(chan struct{}, 1), done: make(chan struct{})}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	go q.run()
	return q
}

func setDefault(v *int, def int) {
	if *v <= 0 {
		*v = def
	}
}

// Put queues payload (which the Queue owns from now on). It fails with
// ErrQueueFull when MaxEvents events or MaxBytes bytes are waiting or
// being sent, and with ErrQueueClosed after Close.
func (q *Queue) Put(payload []byte) error {
	q.mu.Lock()
	switch {
	case q.closing:
		q.mu.Unlock()
		return ErrQueueClosed
	case q.events >= q.cfg.MaxEvents:
		q.mu.Unlock()
		return fmt.Errorf("%w: %d events waiting", ErrQueueFull, q.cfg.MaxEvents)
	case q.bytes+len(payload) > q.cfg.MaxBytes && q.events > 0:
		q.mu.Unlock()
		return fmt.Errorf("%w: %d bytes waiting", ErrQueueFull, q.bytes)
	}
	q.items = append(q.items, payload)
	q.events++
	q.bytes += len(payload)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close stops taking events and waits until what is queued was sent, or
// until ctx ends: then it gives up on the rest (the send in progress sees
// its ctx end) and waits for the goroutine to return.
func (q *Queue) Close(ctx context.Context) {
	q.mu.Lock()
	q.closing = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	select {
	case <-q.done:
	case <-ctx.Done():
		q.cancel()
		<-q.done
	}
	q.cancel()
}

// run is the one goroutine that sends.
func (q *Queue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		for len(q.items) == 0 && !q.closing {
			q.mu.Unlock()
			<-q.wake
			q.mu.Lock()
		}
		if len(q.items) == 0 || q.ctx.Err() != nil {
			n := len(q.items)
			q.items = nil
			q.mu.Unlock()
			if n > 0 {
				q.log.Warn("broker: closed before these events were sent", "events", n)
			}
			return
		}
		taken := q.items
		q.items, q.spare = q.spare[:0], nil
		q.mu.Unlock()

		for rest := taken; len(rest) > 0; {
			n, size := 0, 0
			for n < len(rest) && n < q.cfg.BatchEvents && (n == 0 || size+len(rest[n]) <= q.cfg.BatchBytes) {
				size += len(rest[n])
				n++
			}
			if q.ctx.Err() != nil { // Close gave up: drop the rest
				n, size = len(rest), 0
				for _, p := range rest {
					size += len(p)
				}
				q.log.Warn("broker: closed before these events were sent", "events", n)
			} else if err := q.send(q.ctx, rest[:n]); err != nil {
				q.lost += n
				if count, ok := q.failed.Tick(); ok {
					q.log.Error("broker: publishing failed; events lost", "events", q.lost, "failed_sends", count, "err", err)
					q.lost = 0
				}
			}
			clear(rest[:n])
			rest = rest[n:]
			q.mu.Lock()
			q.events -= n
			q.bytes -= size
			q.mu.Unlock()
		}
		if cap(taken) <= 4096 {
			q.mu.Lock()
			q.spare = taken[:0]
			q.mu.Unlock()
		}
	}
}
