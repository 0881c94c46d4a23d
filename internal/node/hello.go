package node

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/netip"
	"time"

	"github.com/parley-chat/parley"
)

// hello gives the session a nickname:
//   - with a token (c.Token): the guest the claim token holds (a second tab,
//     or a reconnect), else the account of the login session token; an
//     unknown token is bad_token;
//   - without one, with the connection's login cookie (Peer.Token) valid:
//     that account if no nickname is asked or its own (welcome carries no
//     token: the page never sees the cookie), else the nickname asked, as a
//     guest — but an account ban of the cookie's account refuses it;
//   - else the nickname asked, if nobody online or within the hold period
//     has it; a registered nickname is login_required.
//
// Bans refuse it (banned): the connection's address, the nickname, the
// account — and a connection carrying the login cookie of a banned
// account, whatever it asks. A registered account may be online from
// several connections.
func (n *Node) hello(ctx context.Context, s *Session, c *parley.Command) (*parley.Reply, error) {
	if s.key != "" {
		return nil, parley.Errorf(parley.EAlreadyHello, "already said hello as %s", s.nick)
	}
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	st, err := n.modState(ctx)
	if err != nil {
		return nil, err
	}
	now := n.cfg.Now()
	// A ban of the address keeps out everyone from it but moderators and
	// admins who prove who they are (they may share an office's address
	// with the person they banned): checked once the user is known, and
	// before a guest claims anything.
	ipBan := st.ipBan(s.peer.IP, now)
	var (
		user    parley.User
		token   = c.Token // what the welcome carries
		login   string    // the hash of the login session the session came in with
		account string    // the NickKey of the cookie's account
		cookie  parley.User
	)
	if s.peer.Token != "" {
		cookie, err = n.store.SessionUser(ctx, hashToken(s.peer.Token), now)
		switch {
		case err == nil:
			account = parley.NickKey(cookie.Nickname)
		case parley.ErrorCode(err) == parley.ENotFound:
			err = nil // an expired or ended login: a guest
		default:
			return nil, err
		}
		// The account's owner is refused under any nickname.
		if b := st.ban(parley.BanAccount, account, now); account != "" && b != nil {
			return nil, bannedError(b)
		}
	}
	switch {
	case c.Token != "":
		user, login, err = n.byToken(ctx, c.Token, now)
	case account != "" && (c.Nickname == "" || parley.NickKey(c.Nickname) == account):
		user, token, login = cookie, "", hashToken(s.peer.Token)
	default:
		if ipBan != nil {
			return nil, bannedError(ipBan)
		}
		if b := st.userBan(parley.NickKey(c.Nickname), now); b != nil {
			return nil, bannedError(b)
		}
		user, token, err = n.claim(ctx, c.Nickname)
	}
	if err != nil {
		return nil, err
	}
	if ipBan != nil && !(user.Registered && user.Role.CanModerate()) {
		return nil, bannedError(ipBan)
	}
	key := parley.NickKey(user.Nickname)
	if b := st.userBan(key, now); b != nil {
		return nil, bannedError(b)
	}
	if err := n.store.TouchUser(ctx, user.Nickname, now, 0, ipString(s.peer.IP)); err != nil {
		return nil, err
	}
	role := user.Role
	if !user.Registered {
		role = parley.RoleUser
	}
	n.mu.Lock()
	s.nick, s.key, s.claimedAt = user.Nickname, key, user.ClaimedAt
	s.login, s.account = login, account
	s.setRole(role)
	s.maxDM.Store(user.DMCursor)
	n.users[s.key] = append(n.users[s.key], s)
	n.mu.Unlock()
	return &parley.Reply{Nickname: user.Nickname, Token: token, Role: role, Reg: user.Registered}, nil
}

// byToken returns the user of a token given in hello: a guest's claim
// token, else a login session token (login is then its hash).
func (n *Node) byToken(ctx context.Context, token string, now time.Time) (user parley.User, login string, err error) {
	h := hashToken(token)
	user, err = n.store.UserByToken(ctx, h)
	if parley.ErrorCode(err) != parley.ENotFound {
		return user, "", err
	}
	user, err = n.store.SessionUser(ctx, h, now)
	if parley.ErrorCode(err) == parley.ENotFound {
		return user, "", parley.Errorf(parley.EBadToken, "unknown or expired session token; say hello with a nickname")
	}
	return user, h, err
}

// ipString is an address as the store keeps it ("" for none).
func ipString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.Unmap().String()
}

// claim takes a free nickname for a new token. A registered nickname is
// never free: login_required.
func (n *Node) claim(ctx context.Context, nick string) (parley.User, string, error) {
	if nick == "" {
		return parley.User{}, "", parley.Errorf(parley.EMissingField, "missing field: nickname (or token, or log in first)")
	}
	if !parley.ValidNickname(nick) {
		return parley.User{}, "", parley.Errorf(parley.EInvalid,
			"a nickname is 1–%d letters, digits, '_', '-' or '.'", parley.MaxNicknameLen)
	}
	if n.online(parley.NickKey(nick)) {
		return parley.User{}, "", n.taken(ctx, nick, "%s is online already; pick another nickname")
	}
	token := newToken()
	now := n.cfg.Now()
	user, err := n.store.ClaimNickname(ctx, nick, hashToken(token), now, now.Add(-n.cfg.NickHold))
	if parley.ErrorCode(err) == parley.ENicknameTaken {
		err = n.taken(ctx, nick, "%s is taken; pick another nickname")
	}
	return user, token, err
}

// taken is the error for a nickname someone holds: login_required if it
// is registered, else nickname_taken with msg.
func (n *Node) taken(ctx context.Context, nick, msg string) error {
	if u, err := n.store.UserByNickname(ctx, nick); err == nil && u.Registered {
		return parley.Errorf(parley.ELoginRequired, "%s is registered; log in with its password", u.Nickname)
	}
	return parley.Errorf(parley.ENicknameTaken, msg, nick)
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
