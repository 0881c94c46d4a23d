package node

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley"
)

// Each node keeps the bans, mutes and slow modes in force in memory, as
// an immutable snapshot behind an atomic pointer: hello and the send path
// read it with one atomic load and a few map lookups, never the store.
//
// The snapshot is read from the store on first use, changed in place (copy
// on write) by the node.ban, node.unban, muted, unmuted and room.settings
// events of every node, and read again from the store when it is older
// than modRefresh at its next use — so an event this node missed (its
// broker link was cut) heals within that time. Expiry needs no event: every
// check compares ExpiresAt with the clock.

// modRefresh is the age past which the snapshot is read again from the
// store (in the background; the old one serves meanwhile).
const modRefresh = 30 * time.Second

// modState is one snapshot. It is never changed once published.
type modState struct {
	loaded time.Time                 // when it was read from the store (Config.Now)
	bans   map[int64]*parley.Ban     // by ID
	byKey  map[banKey][]*parley.Ban  // account and nickname bans by kind and NickKey
	ips    []*parley.Ban             // IP bans
	mutes  map[roomNick]*parley.Mute // by RoomKey and NickKey
	slow   map[string]time.Duration  // RoomKey → slow mode, rooms with one only
}

type banKey struct {
	kind parley.BanKind
	key  string
}

type roomNick struct{ room, key string }

// modHolder holds the snapshot and serializes its writers.
type modHolder struct {
	cur        atomic.Pointer[modState]
	loadMu     sync.Mutex // one first load at a time
	mu         sync.Mutex // held while a new snapshot is made from the current one
	gen        uint64     // events applied; guarded by mu
	refreshing atomic.Bool
}

// modState returns the snapshot, reading it from the store on first use;
// a snapshot older than modRefresh is refreshed in the background.
func (n *Node) modState(ctx context.Context) (*modState, error) {
	return n.modStateAt(ctx, n.cfg.Now())
}

// modStateAt is modState for a caller that read the clock already.
func (n *Node) modStateAt(ctx context.Context, now time.Time) (*modState, error) {
	if st := n.mod.cur.Load(); st != nil {
		if now.Sub(st.loaded) >= modRefresh {
			n.refreshMod()
		}
		return st, nil
	}
	n.mod.loadMu.Lock()
	defer n.mod.loadMu.Unlock()
	if st := n.mod.cur.Load(); st != nil {
		return st, nil
	}
	return n.loadMod(ctx)
}

// refreshMod reads the snapshot again on a goroutine of its own, unless
// one does already or the node is shutting down.
func (n *Node) refreshMod() {
	if !n.mod.refreshing.CompareAndSwap(false, true) {
		return
	}
	if !n.begin() {
		n.mod.refreshing.Store(false)
		return
	}
	go func() {
		defer n.inflight.Done()
		defer n.mod.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		if _, err := n.loadMod(ctx); err != nil {
			n.log.Warn("refresh bans, mutes and slow modes from the store", "err", err)
		}
	}()
}

// loadMod reads bans, mutes and slow modes from the store and publishes
// them as the snapshot. An event applied while it read may be missing
// from what it read: then it reads again (at most three times, and then
// keeps what it has but marks it for the next refresh).
func (n *Node) loadMod(ctx context.Context) (*modState, error) {
	for try := 0; ; try++ {
		n.mod.mu.Lock()
		gen := n.mod.gen
		n.mod.mu.Unlock()
		now := n.cfg.Now()
		bans, err := n.store.Bans(ctx, now)
		if err != nil {
			return nil, fmt.Errorf("load bans: %w", err)
		}
		mutes, err := n.store.Mutes(ctx, now)
		if err != nil {
			return nil, fmt.Errorf("load mutes: %w", err)
		}
		rooms, err := n.store.Rooms(ctx)
		if err != nil {
			return nil, fmt.Errorf("load rooms' slow modes: %w", err)
		}
		st := &modState{
			loaded: now,
			bans:   make(map[int64]*parley.Ban, len(bans)),
			mutes:  make(map[roomNick]*parley.Mute, len(mutes)),
			slow:   make(map[string]time.Duration),
		}
		for i := range bans {
			st.bans[bans[i].ID] = &bans[i]
		}
		for i := range mutes {
			st.mutes[muteKey(mutes[i].Room, mutes[i].Nickname)] = &mutes[i]
		}
		for _, r := range rooms {
			if r.SlowMode > 0 {
				st.slow[parley.RoomKey(r.Name)] = r.SlowMode
			}
		}
		st.index()
		n.mod.mu.Lock()
		if n.mod.gen == gen || try == 2 {
			if n.mod.gen != gen {
				st.loaded = time.Time{} // refresh at the next use
			}
			n.mod.cur.Store(st)
			n.mod.mu.Unlock()
			return st, nil
		}
		n.mod.mu.Unlock()
	}
}

func muteKey(room, nick string) roomNick {
	return roomNick{parley.RoomKey(room), parley.NickKey(nick)}
}

// index builds byKey and ips from bans.
func (st *modState) index() {
	st.byKey = make(map[banKey][]*parley.Ban)
	st.ips = nil
	for _, b := range st.bans {
		if b.Kind == parley.BanIP {
			st.ips = append(st.ips, b)
			continue
		}
		k := banKey{b.Kind, parley.NickKey(b.Value)}
		st.byKey[k] = append(st.byKey[k], b)
	}
}

// applyMod applies a moderation event to the snapshot (a new one replaces
// it). Before the first load there is nothing to change; the load that is
// running reads again (gen changed).
func (n *Node) applyMod(ev *parley.Event) {
	n.mod.mu.Lock()
	defer n.mod.mu.Unlock()
	n.mod.gen++
	cur := n.mod.cur.Load()
	if cur == nil {
		return
	}
	next := *cur
	switch ev.Kind {
	case parley.EventBan, parley.EventUnban:
		if ev.Ban == nil {
			return
		}
		next.bans = cloneMap(cur.bans)
		if ev.Kind == parley.EventBan {
			b := *ev.Ban
			next.bans[b.ID] = &b
		} else {
			delete(next.bans, ev.Ban.ID)
		}
		next.index()
	case parley.EventMuted, parley.EventUnmuted:
		next.mutes = cloneMap(cur.mutes)
		k := muteKey(ev.Room, ev.Nickname)
		if ev.Kind == parley.EventMuted && ev.Mute != nil {
			m := *ev.Mute
			next.mutes[k] = &m
		} else {
			delete(next.mutes, k)
		}
	case parley.EventRoomSettings:
		if ev.Settings == nil {
			return
		}
		next.slow = cloneMap(cur.slow)
		if ev.Settings.SlowMode > 0 {
			next.slow[parley.RoomKey(ev.Room)] = ev.Settings.SlowMode
		} else {
			delete(next.slow, parley.RoomKey(ev.Room))
		}
	default:
		return
	}
	n.mod.cur.Store(&next)
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ban returns a ban of kind on the nickname key in force at now, or nil.
func (st *modState) ban(kind parley.BanKind, key string, now time.Time) *parley.Ban {
	for _, b := range st.byKey[banKey{kind, key}] {
		if b.ActiveAt(now) {
			return b
		}
	}
	return nil
}

// userBan returns an account or nickname ban on key in force at now.
func (st *modState) userBan(key string, now time.Time) *parley.Ban {
	if b := st.ban(parley.BanNickname, key, now); b != nil {
		return b
	}
	return st.ban(parley.BanAccount, key, now)
}

// ipBan returns an IP ban covering ip in force at now, or nil.
func (st *modState) ipBan(ip netip.Addr, now time.Time) *parley.Ban {
	if !ip.IsValid() {
		return nil
	}
	for _, b := range st.ips {
		if b.MatchesIP(ip) && b.ActiveAt(now) {
			return b
		}
	}
	return nil
}

// mute returns the mute of the user key in room (a RoomKey) in force at
// now, or nil.
func (st *modState) mute(room, key string, now time.Time) *parley.Mute {
	if len(st.mutes) == 0 {
		return nil
	}
	if m := st.mutes[roomNick{room, key}]; m != nil && m.ActiveAt(now) {
		return m
	}
	return nil
}

// until says until when a ban or mute holds, for people.
func until(t time.Time) string {
	if t.IsZero() {
		return "further notice"
	}
	return t.UTC().Format(time.RFC3339)
}

func withReason(msg, reason string) string {
	if reason == "" {
		return msg
	}
	return msg + ": " + reason
}

func bannedError(b *parley.Ban) error {
	return parley.Errorf(parley.EBanned, "%s", withReason("you are banned until "+until(b.ExpiresAt), b.Reason))
}

func mutedError(m *parley.Mute) error {
	return parley.Errorf(parley.EMuted, "%s", withReason("you are muted in "+m.Room+" until "+until(m.ExpiresAt), m.Reason))
}

// slowTracker keeps, per person and room with slow mode, when they last
// posted (on this node: several connections of one person share it).
type slowTracker struct {
	mu      sync.Mutex
	last    map[roomNick]time.Time
	pruneAt int
}

// minPrune: the tracker is swept of entries past their window when it
// grows beyond this, or twice what the last sweep left.
const minPrune = 1024

// roomRules checks that the user key with role may post in room (a
// RoomKey) at now: not muted, and not within the room's slow mode since
// their last message (moderators and admins are exempt). A message that
// passes counts as the person's last.
func (n *Node) roomRules(ctx context.Context, room, key string, role parley.Role, now time.Time) error {
	st, err := n.modStateAt(ctx, now)
	if err != nil {
		return err
	}
	if m := st.mute(room, key, now); m != nil {
		return mutedError(m)
	}
	every := st.slow[room]
	if every <= 0 || role.CanModerate() {
		return nil
	}
	t := &n.slow
	k := roomNick{room, key}
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.last[k]; ok && now.Sub(last) < every {
		return &parley.Error{
			Code:       parley.ERateLimited,
			Message:    "slow mode: one message every " + strconv.FormatFloat(every.Seconds(), 'f', -1, 64) + " s",
			RetryAfter: last.Add(every).Sub(now),
		}
	}
	if t.last == nil {
		t.last = make(map[roomNick]time.Time)
	}
	t.last[k] = now
	if len(t.last) > max(t.pruneAt, minPrune) {
		for k, at := range t.last {
			if now.Sub(at) >= st.slow[k.room] {
				delete(t.last, k)
			}
		}
		t.pruneAt = 2 * len(t.last)
	}
	return nil
}
