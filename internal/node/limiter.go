package node

import (
	"math"
	"time"
)

// tokenBucket is a per-session rate limiter: it holds up to burst tokens and
// gains rate tokens per second; each command takes one. It is owned by one
// goroutine and takes no lock.
type tokenBucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int, now time.Time) tokenBucket {
	return tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// take takes a token if there is one; otherwise it returns how long until
// there will be.
func (b *tokenBucket) take(now time.Time) (ok bool, wait time.Duration) {
	b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}
