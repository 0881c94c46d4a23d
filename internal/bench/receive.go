package bench

import (
	"bytes"
	"math"
	"sync"
	"time"
)

// receiver counts what one connection receives from its room: distinct
// (publisher, n) pairs, duplicates, and latency. Only its connection's
// reader goroutine calls message.
type receiver struct {
	run  *run
	room int

	mu       sync.Mutex
	seen     map[uint64]struct{} // publisher<<40 | n
	distinct int64
	dups     int64
	hist     histogram
}

func newReceiver(r *run, room int) *receiver {
	return &receiver{run: r, room: room, seen: make(map[uint64]struct{})}
}

var benchPrefix = []byte("pb ")

// message takes the text of a message event ("pb <pub> <n> <unixnano> …").
func (r *receiver) message(text []byte) {
	if !bytes.HasPrefix(text, benchPrefix) {
		return
	}
	now := time.Now().UnixNano()
	f := bytes.SplitN(text[len(benchPrefix):], []byte(" "), 4)
	if len(f) < 3 {
		return
	}
	pub, n, t0 := atoi(f[0]), atoi(f[1]), atoi(f[2])
	key := uint64(pub)<<40 | uint64(n)
	r.run.delivered.Add(1)
	r.run.lastDelivery.Store(now)
	r.mu.Lock()
	if _, dup := r.seen[key]; dup {
		r.dups++
	} else {
		r.seen[key] = struct{}{}
		r.distinct++
	}
	r.hist.add(float64(now-t0) / 1e6)
	r.mu.Unlock()
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
