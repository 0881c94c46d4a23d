package node

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Logins are guarded against guessing passwords: per address at most
// loginIPFailures failures within loginIPWindow, per nickname at most
// loginNickFailures within loginNickWindow; past that, a login is refused
// with rate_limited until the oldest failure ages out (whatever the
// password: a guesser learns nothing). A success clears the nickname's
// failures (not the address's). Each node counts its own (a guesser
// spreading over n nodes gets n times the tries); each table tracks at most
// loginMaxKeys addresses or nicknames, dropping the one whose last failure
// is oldest, so a flood of addresses cannot grow memory.
const (
	loginIPFailures   = 10
	loginIPWindow     = 10 * time.Minute
	loginNickFailures = 5
	loginNickWindow   = 15 * time.Minute
	loginMaxKeys      = 10000
)

// loginGuard is the two tables of failures.
type loginGuard struct {
	ips, nicks *failures
}

func newLoginGuard() loginGuard {
	return loginGuard{
		ips:   newFailures(loginIPFailures, loginIPWindow, loginMaxKeys),
		nicks: newFailures(loginNickFailures, loginNickWindow, loginMaxKeys),
	}
}

// ipKey is what an address counts as: an IPv4 address, or an IPv6
// address's /64 (what one subscriber usually has); "" for none.
func ipKey(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// failures counts recent failures per key, in bounded memory.
type failures struct {
	limit  int
	window time.Duration
	max    int

	mu    sync.Mutex
	keys  map[string]*list.Element // of *failEntry
	order *list.List               // least recently failed first
}

type failEntry struct {
	key   string
	times []time.Time // the last failures, oldest first, at most limit
}

func newFailures(limit int, window time.Duration, max int) *failures {
	return &failures{limit: limit, window: window, max: max, keys: make(map[string]*list.Element), order: list.New()}
}

// wait returns how long key must wait before trying again (0: it may).
func (f *failures) wait(key string, now time.Time) time.Duration {
	if key == "" {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	el := f.keys[key]
	if el == nil {
		return 0
	}
	e := el.Value.(*failEntry)
	recent := e.times[:0]
	for _, t := range e.times {
		if now.Sub(t) < f.window {
			recent = append(recent, t)
		}
	}
	e.times = recent
	if len(recent) == 0 {
		f.order.Remove(el)
		delete(f.keys, key)
		return 0
	}
	if len(recent) < f.limit {
		return 0
	}
	return recent[0].Add(f.window).Sub(now)
}

// fail records a failure of key at now.
func (f *failures) fail(key string, now time.Time) {
	if key == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	el := f.keys[key]
	if el == nil {
		el = f.order.PushBack(&failEntry{key: key})
		f.keys[key] = el
		for f.order.Len() > f.max {
			oldest := f.order.Front()
			f.order.Remove(oldest)
			delete(f.keys, oldest.Value.(*failEntry).key)
		}
	} else {
		f.order.MoveToBack(el)
	}
	e := el.Value.(*failEntry)
	e.times = append(e.times, now)
	if len(e.times) > f.limit {
		e.times = append(e.times[:0], e.times[len(e.times)-f.limit:]...)
	}
}

// clear forgets key's failures.
func (f *failures) clear(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if el := f.keys[key]; el != nil {
		f.order.Remove(el)
		delete(f.keys, key)
	}
}

// size returns the number of keys tracked (tests).
func (f *failures) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}
