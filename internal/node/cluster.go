package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sort"
	"time"

	"github.com/parley-chat/parley"
)

// A node is one parley process. Several nodes share a store and a broker
// and make one chat: every event is delivered here at once to the
// sessions concerned and published through the broker to the other
// nodes, which deliver it to theirs (a node ignores its own events coming
// back). Message events go through the sequencer (sequence.go), so the
// order and completeness of a room's messages do not depend on the broker.
//
// Presence across nodes: each node knows who is connected to it and in
// which rooms, and tells the others — joined/left events as they happen,
// and a heartbeat every Config.Heartbeat that carries a snapshot of its
// people when another node asks (it is new or was cut off), when it sees a
// node it did not know, and every snapshotEvery heartbeats for repair. A
// node not heard from for 3 heartbeats is gone: its people leave its
// rooms, for everyone, and the rooms here catch up from the store (it may
// have stored messages it never published).

// snapshotEvery: every this many heartbeats, a node's heartbeat carries its
// whole presence even if nobody asked, repairing what a lost event broke.
const snapshotEvery = 15

// newNodeID returns a random identity for this process.
func newNodeID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ID returns the node's identity in the cluster (random per process).
func (n *Node) ID() string { return n.id }

// remoteNode is what this node knows of another one.
type remoteNode struct {
	seen  time.Time
	users map[string]string            // NickKey → nickname
	rooms map[string]map[string]string // room → NickKey → nickname
}

// publish delivers ev to the sessions here and hands it to the broker for
// the other nodes. A broker failure is logged: a message is stored
// already, and other nodes find it in the store (sequence.go).
func (n *Node) publish(ctx context.Context, ev *parley.Event) {
	ev.Node = n.id
	n.deliver(ev)
	n.broadcast(ctx, ev)
}

// broadcast hands ev to the broker only. Failures (a broker outage fails
// every publish) are logged at most once a second, with their count.
func (n *Node) broadcast(ctx context.Context, ev *parley.Event) {
	ev.Node = n.id
	err := n.broker.Publish(context.WithoutCancel(ctx), ev)
	if err == nil {
		return
	}
	failed := n.publishFailed.Add(1)
	now := time.Now().UnixNano()
	if last := n.publishLogged.Load(); now-last >= int64(time.Second) && n.publishLogged.CompareAndSwap(last, now) {
		n.log.Error("publish to the other nodes failed; their members catch up from the store", "kind", ev.Kind, "room", ev.Room, "err", err, "failures", failed)
	}
}

// receive is the broker subscription: events of other nodes.
func (n *Node) receive(ev *parley.Event) {
	if ev.Node == n.id {
		return // delivered here when published
	}
	switch ev.Kind {
	case parley.EventHeartbeat:
		n.heard(ev)
	case parley.EventNodeGone:
		n.dropNode(ev.Node, "shut down")
	case parley.EventJoined, parley.EventLeft:
		n.remotePresence(ev)
	default:
		n.deliver(ev)
	}
}

// seenLocked notes that node is alive; a node not known yet gets this
// node's presence in the next heartbeat.
func (n *Node) seenLocked(node string) *remoteNode {
	r := n.remotes[node]
	if r == nil {
		r = &remoteNode{users: map[string]string{}, rooms: map[string]map[string]string{}}
		n.remotes[node] = r
		n.snapshotDue = true
		n.log.Info("cluster: a node joined", "node", node)
	}
	r.seen = n.cfg.Now()
	return r
}

// heard takes a heartbeat: the node is alive, and with a snapshot, its
// people are exactly those.
func (n *Node) heard(ev *parley.Event) {
	var changes []*parley.Event
	n.mu.Lock()
	r := n.seenLocked(ev.Node)
	if p := ev.Presence; p != nil {
		if p.Ask {
			n.snapshotDue = true
		}
		users := make(map[string]string, len(p.Users))
		for _, nick := range p.Users {
			users[parley.NickKey(nick)] = nick
		}
		rooms := make(map[string]map[string]string, len(p.Rooms))
		for room, nicks := range p.Rooms {
			people := make(map[string]string, len(nicks))
			for _, nick := range nicks {
				people[parley.NickKey(nick)] = nick
			}
			rooms[room] = people
		}
		changes = n.replaceLocked(r, users, rooms)
	}
	n.mu.Unlock()
	n.deliverAll(changes)
}

// replaceLocked gives r new people and returns the joined/left events
// that this makes for the sessions here: only where someone came into or
// left a room cluster-wide.
func (n *Node) replaceLocked(r *remoteNode, users map[string]string, rooms map[string]map[string]string) []*parley.Event {
	var changes []*parley.Event
	for room, people := range r.rooms {
		for key, nick := range people {
			if _, still := rooms[room][key]; !still {
				delete(people, key)
				if !n.presentLocked(room, key) {
					changes = append(changes, &parley.Event{Kind: parley.EventLeft, Room: room, Nickname: nick})
				}
			}
		}
	}
	for room, people := range rooms {
		for key, nick := range people {
			if _, had := r.rooms[room][key]; !had && !n.presentLocked(room, key) {
				changes = append(changes, &parley.Event{Kind: parley.EventJoined, Room: room, Nickname: nick})
			}
		}
	}
	r.users, r.rooms = users, rooms
	return changes
}

// remotePresence applies another node's joined or left event and delivers
// it here if it changes who is in the room cluster-wide.
func (n *Node) remotePresence(ev *parley.Event) {
	key := parley.NickKey(ev.Nickname)
	n.mu.Lock()
	r := n.seenLocked(ev.Node)
	was := n.presentLocked(ev.Room, key)
	if ev.Kind == parley.EventJoined {
		if r.rooms[ev.Room] == nil {
			r.rooms[ev.Room] = map[string]string{}
		}
		r.rooms[ev.Room][key] = ev.Nickname
		r.users[key] = ev.Nickname
	} else {
		delete(r.rooms[ev.Room], key)
		if len(r.rooms[ev.Room]) == 0 {
			delete(r.rooms, ev.Room)
		}
	}
	now := n.presentLocked(ev.Room, key)
	n.mu.Unlock()
	if was != now {
		n.deliver(ev)
	}
}

// presentLocked reports whether the user key is in room on any node.
func (n *Node) presentLocked(room, key string) bool {
	if r := n.rooms[room]; r != nil {
		if _, ok := r.people[key]; ok {
			return true
		}
	}
	return n.presentRemotelyLocked(room, key)
}

// presentRemotelyLocked reports whether the user key is in room on another
// node.
func (n *Node) presentRemotelyLocked(room, key string) bool {
	for _, r := range n.remotes {
		if _, ok := r.rooms[room][key]; ok {
			return true
		}
	}
	return false
}

// membersLocked returns the nicknames in room on every node, sorted, and
// their number; with names false only the number — without copying the
// room's people when no other node has any (a join into a big room must
// not cost in proportion to its size).
func (n *Node) membersLocked(room string, names bool) ([]string, int) {
	if !names {
		local := 0
		if r := n.rooms[room]; r != nil {
			local = len(r.people)
		}
		remote := false
		for _, r := range n.remotes {
			if len(r.rooms[room]) > 0 {
				remote = true
				break
			}
		}
		if !remote {
			return nil, local
		}
	}
	seen := map[string]string{}
	if r := n.rooms[room]; r != nil {
		for key, p := range r.people {
			seen[key] = p.nick
		}
	}
	for _, r := range n.remotes {
		for key, nick := range r.rooms[room] {
			seen[key] = nick
		}
	}
	if !names {
		return nil, len(seen)
	}
	out := make([]string, 0, len(seen))
	for _, nick := range seen {
		out = append(out, nick)
	}
	sort.Strings(out)
	return out, len(out)
}

// onlineRemotelyLocked reports whether the user key is connected to
// another node.
func (n *Node) onlineRemotelyLocked(key string) bool {
	for _, r := range n.remotes {
		if _, ok := r.users[key]; ok {
			return true
		}
	}
	return false
}

// dropNode forgets a node that died or shut down: its people leave, and
// the rooms here catch up on what it may have stored without publishing.
func (n *Node) dropNode(node, why string) {
	n.mu.Lock()
	r := n.remotes[node]
	if r == nil {
		n.mu.Unlock()
		return
	}
	changes := n.replaceLocked(r, nil, nil)
	delete(n.remotes, node)
	n.mu.Unlock()
	n.log.Warn("cluster: a node is gone", "node", node, "why", why, "left", len(changes))
	n.deliverAll(changes)
	n.CatchUp()
}

func (n *Node) deliverAll(evs []*parley.Event) {
	for _, ev := range evs {
		n.deliver(ev)
	}
}

// snapshotLocked returns this node's people.
func (n *Node) snapshotLocked() *parley.NodePresence {
	p := &parley.NodePresence{Rooms: make(map[string][]string, len(n.rooms))}
	for _, sessions := range n.users {
		if len(sessions) > 0 {
			p.Users = append(p.Users, sessions[0].nick)
		}
	}
	for name, r := range n.rooms {
		nicks := make([]string, 0, len(r.people))
		for _, person := range r.people {
			nicks = append(nicks, person.nick)
		}
		p.Rooms[name] = nicks
	}
	return p
}

// heartbeats runs until stop is closed: a heartbeat every Config.Heartbeat
// (with this node's presence when due), and nodes not heard from for three
// of them are dropped.
func (n *Node) heartbeats(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	n.beat(true)
	for k := 1; ; k++ {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		n.beat(false)
		n.expire()
		if k%snapshotEvery == 0 {
			n.mu.Lock()
			n.snapshotDue = true
			n.mu.Unlock()
		}
		n.forgetIdleConversations()
	}
}

// beat publishes one heartbeat; ask asks every other node for its
// presence.
func (n *Node) beat(ask bool) {
	ev := &parley.Event{Kind: parley.EventHeartbeat}
	n.mu.Lock()
	// Alone (one node, or none other heard of yet) nobody needs the
	// snapshot: a node that appears asks for it.
	if ask || n.snapshotDue && len(n.remotes) > 0 {
		ev.Presence = n.snapshotLocked()
		ev.Presence.Ask = ask
		n.snapshotDue = false
	}
	n.mu.Unlock()
	n.broadcast(context.Background(), ev)
}

// expire drops the nodes not heard from for three heartbeats.
func (n *Node) expire() {
	limit := n.cfg.Now().Add(-3 * n.cfg.Heartbeat)
	var gone []string
	n.mu.RLock()
	for id, r := range n.remotes {
		if r.seen.Before(limit) {
			gone = append(gone, id)
		}
	}
	n.mu.RUnlock()
	for _, id := range gone {
		n.dropNode(id, "no heartbeat")
	}
}

// Reconnected tells the node that its broker link was cut and is back:
// it asks the other nodes for their presence and catches up from the
// store on the messages it may have missed.
func (n *Node) Reconnected() {
	n.beat(true)
	n.CatchUp()
}

// CatchUp delivers, for every conversation someone here follows, the
// messages the store has past the last one delivered. It runs on a
// goroutine of its own (the store calls take time) and returns at once.
func (n *Node) CatchUp() {
	if !n.begin() {
		return
	}
	go func() {
		defer n.inflight.Done()
		for _, room := range n.seq.followed() {
			if rs := n.seq.get(room); rs != nil {
				rs.catchUp(room)
			}
		}
	}()
}

// forgetIdleConversations stops following direct conversations whose
// people are not connected here any more (rooms are forgotten when their
// last member here leaves).
func (n *Node) forgetIdleConversations() {
	for _, room := range n.seq.followed() {
		a, b, ok := parley.DMParties(room)
		if !ok {
			continue
		}
		n.mu.RLock()
		here := len(n.users[a]) > 0 || len(n.users[b]) > 0
		n.mu.RUnlock()
		if !here {
			n.seq.forget(room)
		}
	}
}

// stopping reports whether Shutdown began.
func (n *Node) stopping() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.closing
}
