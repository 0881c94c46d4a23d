package node

import (
	"github.com/parley-chat/parley"
)

// deliver queues ev on every session here that should see it, encoding
// it once per Codec: this node's events as they are published, other
// nodes' as they come from the broker (cluster.go). Messages go in their
// conversation's seq order (sequence.go); mentions of people here at once.
func (n *Node) deliver(ev *parley.Event) {
	switch ev.Kind {
	case parley.EventAnnouncement:
		n.announcementEvent(ev)
	case parley.EventAnnouncementDeleted:
		n.deliverEveryone(ev) // the timer reads the store when it fires: a deleted one never starts
	case parley.EventDeleted:
		// Not through the sequencer: the tombstone keeps the seq of a
		// message delivered long ago.
		n.deliverRoom(ev)
	case parley.EventRoomSettings:
		n.applyMod(ev)
		n.deliverRoom(ev)
	case parley.EventMuted, parley.EventUnmuted:
		n.applyMod(ev)
		n.deliverUser(ev, parley.NickKey(ev.Nickname))
	case parley.EventRole:
		n.roleChanged(ev)
	case parley.EventKick:
		n.kicked(ev)
	case parley.EventBan, parley.EventUnban:
		n.applyMod(ev)
		if ev.Kind == parley.EventBan {
			n.banned(ev)
		}
	case eventLoginsEnded:
		n.loginsEnded(ev)
	case parley.EventMessage:
		if a, b, ok := parley.DMParties(ev.Room); ok && !n.seq.known(ev.Room) {
			// A direct conversation is followed while one of its two
			// people is here, from the first message seen.
			n.mu.RLock()
			here := len(n.users[a]) > 0 || len(n.users[b]) > 0
			n.mu.RUnlock()
			if here {
				n.seq.follow(ev.Room, 0, n)
			}
		}
		n.seq.message(ev)
		if !parley.IsDMKey(ev.Room) {
			n.deliverMentions(ev) // a direct message notifies nobody else
		}
	case parley.EventTyping:
		if a, b, ok := parley.DMParties(ev.Room); ok {
			var fc frameCache
			n.deliverDirect(&fc, ev, a, b)
			return
		}
		n.deliverRoom(ev)
	case parley.EventJoined, parley.EventLeft:
		n.deliverRoom(ev)
	}
}

// deliverEveryone queues ev on every session that said hello here.
func (n *Node) deliverEveryone(ev *parley.Event) {
	var fc frameCache
	sent := 0
	n.mu.RLock()
	for _, sessions := range n.users {
		sent += fc.sendAll(ev, sessions, "")
	}
	n.mu.RUnlock()
	n.delivered.Add(int64(sent))
}

// deliverUser queues ev on the sessions of the user key here.
func (n *Node) deliverUser(ev *parley.Event, key string) {
	var fc frameCache
	n.mu.RLock()
	sent := fc.sendAll(ev, n.users[key], "")
	n.mu.RUnlock()
	n.delivered.Add(int64(sent))
}

// deliverMessage hands a message, in its turn (sequence.go), to the room's
// members here, or to the two people of a direct conversation.
func (n *Node) deliverMessage(ev *parley.Event) {
	if a, b, ok := parley.DMParties(ev.Room); ok {
		var fc frameCache
		n.deliverDirect(&fc, ev, a, b)
		return
	}
	n.deliverRoom(ev)
}

// deliverRoom queues ev for the room's members (batch.go); typing skips
// the typist.
func (n *Node) deliverRoom(ev *parley.Event) {
	n.mu.RLock()
	r := n.rooms[ev.Room]
	n.mu.RUnlock()
	if r != nil {
		n.enqueue(r, ev)
	}
}

// deliverDirect queues a direct message, or typing in a direct
// conversation, to the sessions of its two people and nobody else.
func (n *Node) deliverDirect(fc *frameCache, ev *parley.Event, a, b string) {
	skip := ""
	if ev.Kind == parley.EventTyping {
		skip = parley.NickKey(ev.Nickname)
	}
	sent := 0
	n.mu.RLock()
	defer n.mu.RUnlock()
	defer func() { n.delivered.Add(int64(sent)) }()
	for _, key := range [2]string{a, b} {
		if key == skip {
			continue
		}
		for _, s := range n.users[key] {
			sent++
			if ev.Kind == parley.EventMessage {
				s.sendMessage(ev.Message, fc.frame(s.codec, ev))
			} else {
				s.send(fc.frame(s.codec, ev))
			}
			if ev.Message != nil {
				s.noteDM(ev.Message.ID)
			}
		}
	}
}

// deliverMentions sends a mention event to every mentioned user connected
// here, except the sender.
func (n *Node) deliverMentions(ev *parley.Event) {
	m := ev.Message
	if len(m.Mentions) == 0 {
		return
	}
	mention := &parley.Event{Kind: parley.EventMention, Room: m.Room, Message: m}
	var fc frameCache
	from := parley.NickKey(m.From)
	sent := 0
	n.mu.RLock()
	for _, nick := range m.Mentions {
		if key := parley.NickKey(nick); key != from {
			sent += fc.sendAll(mention, n.users[key], "")
		}
	}
	n.mu.RUnlock()
	n.delivered.Add(int64(sent))
}

// frameCache holds one encoding of an event per Codec, so fan-out encodes
// once per wire format, not once per recipient.
type frameCache struct {
	codecs [4]Codec
	frames [4][]byte
	n      int
	extra  map[Codec][]byte
}

func (fc *frameCache) frame(c Codec, ev *parley.Event) []byte {
	for i := 0; i < fc.n; i++ {
		if fc.codecs[i] == c {
			return fc.frames[i]
		}
	}
	if f, ok := fc.extra[c]; ok {
		return f
	}
	f := c.EncodeEvent(ev)
	if fc.n < len(fc.codecs) {
		fc.codecs[fc.n], fc.frames[fc.n] = c, f
		fc.n++
	} else {
		if fc.extra == nil {
			fc.extra = make(map[Codec][]byte)
		}
		fc.extra[c] = f
	}
	return f
}

// sendAll queues ev on each session, except those of the user skipKey,
// and returns on how many.
func (fc *frameCache) sendAll(ev *parley.Event, sessions []*Session, skipKey string) int {
	sent := 0
	for _, s := range sessions {
		if skipKey != "" && s.key == skipKey {
			continue
		}
		sent++
		if ev.Kind == parley.EventMessage {
			s.sendMessage(ev.Message, fc.frame(s.codec, ev))
			continue
		}
		s.send(fc.frame(s.codec, ev))
	}
	return sent
}
