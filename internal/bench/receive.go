package bench

import (
	"bytes"
	"math"
	"sync"
	"time"
)

// receiver counts what one connection receives from its room: distinct
// (publisher, n) pairs, duplicates, and latency. Only its connection's
// reader goroutine calls message; Run reads the totals under mu.
type receiver struct {
	run  *run
	room int

	mu       sync.Mutex
	seen     [][]uint64 // per publisher, a bitset of the n received
	distinct int64
	dups     int64
	hist     histogram
}

func newReceiver(r *run, room int) *receiver {
	return &receiver{run: r, room: room}
}

var benchPrefix = []byte("pb ")

// message takes the text of a message event ("pb <pub> <n> <unixnano> …").
// It is on the load generator's hot path: no allocation once warm.
func (r *receiver) message(text []byte) {
	if !bytes.HasPrefix(text, benchPrefix) {
		return
	}
	now := time.Now().UnixNano()
	rest := text[len(benchPrefix):]
	pub, rest := field(rest)
	n, rest := field(rest)
	t0, _ := field(rest)
	r.run.delivered.Add(1)
	r.run.lastDelivery.Store(now)
	r.mu.Lock()
	for int(pub) >= len(r.seen) {
		r.seen = append(r.seen, nil)
	}
	bits := r.seen[pub]
	for int(n/64) >= len(bits) {
		bits = append(bits, make([]uint64, len(bits)+64)...)
	}
	r.seen[pub] = bits
	if bits[n/64]&(1<<(n%64)) != 0 {
		r.dups++
	} else {
		bits[n/64] |= 1 << (n % 64)
		r.distinct++
	}
	r.hist.add(float64(now-t0) / 1e6)
	r.mu.Unlock()
}

// field parses a decimal number and returns it and what follows the space.
func field(b []byte) (int64, []byte) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return atoi(b), nil
	}
	return atoi(b[:i]), b[i+1:]
}

func atoi(b []byte) int64 {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// histogram of latencies in milliseconds: log buckets, 2% wide, from
// 0.01 ms to beyond 100 s.
type histogram struct {
	counts [1200]int64
	n      int64
	top    float64
}

const histBase = 1.02

func bucket(ms float64) int {
	if ms <= 0.01 {
		return 0
	}
	i := int(math.Log(ms/0.01) / math.Log(histBase))
	return min(i, len(histogram{}.counts)-1)
}

func (h *histogram) add(ms float64) {
	h.counts[bucket(ms)]++
	h.n++
	h.top = max(h.top, ms)
}

// merge adds o's counts (the caller holds o's receiver lock).
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.top = max(h.top, o.top)
}

// quantile returns the upper edge of the bucket holding quantile q.
func (h *histogram) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	target := int64(math.Ceil(q * float64(h.n)))
	var acc int64
	for i, c := range h.counts {
		acc += c
		if acc >= target {
			return math.Min(0.01*math.Pow(histBase, float64(i+1)), h.top)
		}
	}
	return h.top
}

func (h *histogram) max() float64 { return h.top }
