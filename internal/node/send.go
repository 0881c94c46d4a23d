package node

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-chat/parley"
)

// sendRoom posts a message to a room the session is in.
func (n *Node) sendRoom(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	r, err := n.joined(s, c.Room)
	if err != nil {
		return nil, err
	}
	return n.post(ctx, s, c, parley.Message{Room: r.name})
}

// sendDirect sends a direct message to a known nickname.
func (n *Node) sendDirect(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	to, err := n.peer(ctx, s, c.To)
	if err != nil {
		return nil, err
	}
	return n.post(ctx, s, c, parley.Message{Room: parley.DMKey(s.nick, to.Nickname), To: to.Nickname})
}

// post validates and renders the text, stores the message, publishes it and
// acks it: with a Store that queues appends, the ack comes from the
// session's pipeline (pipeline.go) and post returns no reply. A ClientID
// seen before is acked with the stored original and publishes nothing.
func (n *Node) post(ctx context.Context, s *Session, c *parley.Command, m parley.Message) (*parley.Reply, error) {
	if err := n.checkText(c.Text); err != nil {
		return nil, err
	}
	if len(c.ClientID) > maxClientIDLen {
		return nil, parley.Errorf(parley.EInvalid, "client_id is longer than %d bytes", maxClientIDLen)
	}
	now := n.cfg.Now()
	if m.To == "" {
		if err := n.roomRules(ctx, m.Room, s.key, s.roleNow(), now); err != nil {
			return nil, err
		}
	}
	m.From, m.Text, m.ClientID, m.CreatedAt = s.nick, c.Text, c.ClientID, now.UTC()
	m.HTML, m.Mentions = n.render.Render(c.Text)
	if q, ok := n.store.(appendQueuer); ok {
		n.queueSend(ctx, q, s, c, m)
		return nil, nil // the pipeline acks
	}
	sctx, cancel := storeCtx(ctx)
	start := time.Now()
	stored, dup, err := n.store.Append(sctx, m)
	n.cfg.Metrics.Appended(time.Since(start), err == nil && !dup)
	cancel()
	if err != nil {
		return nil, err
	}
	n.published(ctx, stored, dup)
	return &parley.Reply{Message: &stored, Duplicate: dup}, nil
}

// published publishes a stored message (delivered here in its room's seq
// order by the sequencer); a duplicate was published when first stored.
func (n *Node) published(ctx context.Context, stored parley.Message, dup bool) {
	if !dup {
		n.publish(ctx, &parley.Event{Kind: parley.EventMessage, Room: stored.Room, Message: &stored})
	}
}

func (n *Node) checkText(text string) error {
	switch {
	case !utf8.ValidString(text):
		return parley.Errorf(parley.EInvalid, "text is not valid UTF-8")
	case strings.TrimSpace(text) == "":
		return parley.Errorf(parley.EMissingField, "missing field: text (it is empty)")
	case utf8.RuneCountInString(text) > n.cfg.MaxTextChars:
		return parley.Errorf(parley.ETooLarge, "text is longer than %d characters", n.cfg.MaxTextChars)
	}
	return nil
}

// peer returns the user a direct command is addressed to.
func (n *Node) peer(ctx context.Context, s *Session, nick string) (parley.User, error) {
	if !parley.ValidNickname(nick) {
		return parley.User{}, parley.Errorf(parley.EInvalid, "%q is not a valid nickname", nick)
	}
	key := parley.NickKey(nick)
	if key == s.key {
		return parley.User{}, parley.Errorf(parley.EInvalid, "a direct message needs someone other than you")
	}
	if name, ok := n.onlineNickname(key); ok {
		return parley.User{Nickname: name}, nil
	}
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	u, err := n.store.UserByNickname(ctx, nick)
	if parley.ErrorCode(err) == parley.ENotFound {
		return u, parley.Errorf(parley.EUnknownUser, "nobody is called %s", nick)
	}
	return u, err
}

// onlineNickname returns the nickname of the user key if they are
// connected here or on another node: a connected person holds their
// nickname, so it is a user, and a direct message to someone online — the
// usual case — needs no store read on the sender's goroutine (it was a
// quarter of the server's CPU under a load of direct messages, and made
// each sender wait for it).
func (n *Node) onlineNickname(key string) (string, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if ss := n.users[key]; len(ss) > 0 {
		return ss[0].nick, true
	}
	for _, r := range n.remotes {
		if name, ok := r.users[key]; ok {
			return name, true
		}
	}
	return "", false
}

// history returns a page of a room the session is in, or of one of its
// direct conversations.
func (n *Node) history(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	room, err := n.readable(ctx, s, c)
	if err != nil {
		return nil, err
	}
	msgs, more, err := n.page(ctx, room, c.Before, c.After, c.Limit)
	if err != nil {
		return nil, err
	}
	if parley.IsDMKey(room) {
		// Messages from before this user claimed the nickname belong to
		// its previous holder.
		kept := msgs[:0]
		for _, m := range msgs {
			if !m.CreatedAt.Before(s.claimedAt) {
				kept = append(kept, m)
			}
		}
		more = more && len(kept) == len(msgs)
		msgs = kept
	}
	return &parley.Reply{Room: room, Messages: msgs, HasMore: more}, nil
}

// page reads up to limit (0: the default page; at most HistoryLimit)
// messages of room after after, or if after is 0, before before (0: the
// newest), and whether there are more (newer with after, older without).
func (n *Node) page(ctx context.Context, room string, before, after int64, limit int) ([]parley.Message, bool, error) {
	if limit <= 0 {
		limit = defaultHistoryPage
	}
	limit = min(limit, n.cfg.HistoryLimit)
	sctx, cancel := storeCtx(ctx)
	defer cancel()
	var msgs []parley.Message
	var err error
	if after > 0 {
		msgs, err = n.store.After(sctx, room, after, limit+1)
	} else {
		msgs, err = n.store.History(sctx, room, before, limit+1)
	}
	if err != nil {
		return nil, false, err
	}
	more := len(msgs) > limit
	switch {
	case more && after > 0:
		msgs = msgs[:limit]
	case more:
		msgs = msgs[1:]
	}
	return msgs, more, nil
}

// readable resolves the conversation a history command reads and checks the
// session may read it: a room it is in, or a direct conversation it is one
// of the two people of.
func (n *Node) readable(ctx context.Context, s *Session, c *parley.Command) (string, error) {
	if c.To != "" {
		u, err := n.peer(ctx, s, c.To)
		if err != nil {
			return "", err
		}
		return parley.DMKey(s.nick, u.Nickname), nil
	}
	if a, b, ok := parley.DMParties(c.Room); ok {
		if a != s.key && b != s.key {
			return "", parley.Errorf(parley.ENotFound, "no such conversation")
		}
		return parley.DMKey(a, b), nil
	}
	r, err := n.joined(s, c.Room)
	if err != nil {
		return "", err
	}
	return r.name, nil
}

// typing tells a room, or one person, that the session's user is typing.
// Typing is never stored, and more than one event per target per
// TypingEvery is dropped without an error.
func (n *Node) typing(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	var target string
	if c.To != "" {
		u, err := n.peer(ctx, s, c.To)
		if err != nil {
			return nil, err
		}
		target = parley.DMKey(s.nick, u.Nickname)
	} else {
		r, err := n.joined(s, c.Room)
		if err != nil {
			return nil, err
		}
		target = r.name
	}
	now := n.cfg.Now()
	if last, ok := s.typingAt[target]; ok && now.Sub(last) < n.cfg.TypingEvery {
		return nil, nil
	}
	if len(s.typingAt) > 2*n.cfg.MaxRooms {
		clear(s.typingAt)
	}
	if s.typingAt == nil {
		s.typingAt = make(map[string]time.Time)
	}
	s.typingAt[target] = now
	n.publish(ctx, &parley.Event{Kind: parley.EventTyping, Room: target, Nickname: s.nick})
	return nil, nil
}
