package node

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"

	"github.com/parley-chat/parley"
)

// hello gives the session a nickname. With a token it is the nickname the
// token holds (a second tab, or a reconnect); without one, the nickname
// asked for, if nobody online or within the hold period has it.
func (n *Node) hello(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	if s.key != "" {
		return nil, parley.Errorf(parley.EAlreadyHello, "already said hello as %s", s.nick)
	}
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	var (
		user  parley.User
		token = c.Token
		err   error
	)
	if token != "" {
		if user, err = n.store.UserByToken(ctx, hashToken(token)); parley.ErrorCode(err) == parley.ENotFound {
			return nil, parley.Errorf(parley.EBadToken, "unknown or expired session token; say hello with a nickname")
		}
	} else {
		user, token, err = n.claim(ctx, c.Nickname)
	}
	if err != nil {
		return nil, err
	}
	if err := n.store.TouchUser(ctx, user.Nickname, n.cfg.Now(), 0, ""); err != nil {
		return nil, err
	}
	n.mu.Lock()
	s.nick, s.key, s.claimedAt = user.Nickname, parley.NickKey(user.Nickname), user.ClaimedAt
	s.maxDM.Store(user.DMCursor)
	n.users[s.key] = append(n.users[s.key], s)
	n.mu.Unlock()
	return &parley.Reply{Nickname: user.Nickname, Token: token}, nil
}

// claim takes a free nickname for a new token.
func (n *Node) claim(ctx context.Context, nick string) (parley.User, string, error) {
	if !parley.ValidNickname(nick) {
		return parley.User{}, "", parley.Errorf(parley.EInvalid,
			"a nickname is 1–%d letters, digits, '_', '-' or '.'", parley.MaxNicknameLen)
	}
	if n.online(parley.NickKey(nick)) {
		return parley.User{}, "", parley.Errorf(parley.ENicknameTaken, "%s is online already; pick another nickname", nick)
	}
	token := newToken()
	now := n.cfg.Now()
	user, err := n.store.ClaimNickname(ctx, nick, hashToken(token), now, now.Add(-n.cfg.NickHold))
	if parley.ErrorCode(err) == parley.ENicknameTaken {
		err = parley.Errorf(parley.ENicknameTaken, "%s is taken; pick another nickname", nick)
	}
	return user, token, err
}

// afterHello pushes what a newly arrived session should see: the active
// announcements, then the direct messages that arrived while its user was
// away.
func (n *Node) afterHello(ctx context.Context, s *Session) {
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	anns, err := n.store.ActiveAnnouncements(ctx, n.cfg.Now())
	if err != nil {
		n.log.Error("load announcements", "err", err)
	}
	for i := range anns {
		s.send(s.codec.EncodeEvent(&parley.Event{Kind: parley.EventAnnouncement, Announcement: &anns[i]}))
	}
	pending, err := n.store.DirectSince(ctx, s.nick, s.maxDM.Load(), pendingDMLimit)
	if err != nil {
		n.log.Error("load pending direct messages", "nick", s.nick, "err", err)
	}
	for i := range pending {
		s.send(s.codec.EncodeEvent(&parley.Event{Kind: parley.EventMessage, Message: &pending[i]}))
		s.noteDM(pending[i].ID)
	}
	if len(pending) > 0 {
		// Record the delivery now, not only at disconnect: a quick
		// reconnect must not get these again.
		if err := n.store.TouchUser(ctx, s.nick, n.cfg.Now(), s.maxDM.Load(), ""); err != nil {
			n.log.Warn("record direct message delivery", "nick", s.nick, "err", err)
		}
	}
}

// online reports whether the user key is connected here or to another
// node.
func (n *Node) online(key string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.users[key]) > 0 || n.onlineRemotelyLocked(key)
}

// newToken returns a session token: 32 random bytes, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is what the store keeps of a token: a stolen database holds no
// usable tokens.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
