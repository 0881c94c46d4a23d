package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/password"
)

// Accounts: registered nicknames, logins, roles and API keys. Every method
// that needs a role takes the Actor asking and checks it here.

// Password rules.
const (
	minPasswordChars = 8
	maxPasswordChars = 256
)

// Register makes nick a registered nickname with password and logs its
// owner in. heldToken is the guest token of whoever asks if they hold nick
// now (they said hello as nick); otherwise nick must be free to claim (as
// for hello: nobody online with it, not held within NickHold). A
// registered nickname answers ENicknameTaken. The password is 8–256
// characters and not the nickname.
func (n *Node) Register(ctx context.Context, nick, pw, heldToken string, ip netip.Addr) (parley.Login, error) {
	if !parley.ValidNickname(nick) {
		return parley.Login{}, parley.Errorf(parley.EInvalid,
			"a nickname is 1–%d letters, digits, '_', '-' or '.'", parley.MaxNicknameLen)
	}
	if err := checkPassword(nick, pw); err != nil {
		return parley.Login{}, err
	}
	if err := n.checkBans(ctx, nick, ip); err != nil {
		return parley.Login{}, err
	}
	key := parley.NickKey(nick)
	if heldToken != "" {
		u, err := n.store.UserByToken(ctx, hashToken(heldToken))
		switch {
		case parley.ErrorCode(err) == parley.ENotFound:
			return parley.Login{}, parley.Errorf(parley.EBadToken, "unknown or expired session token")
		case err != nil:
			return parley.Login{}, fmt.Errorf("register %s: %w", nick, err)
		case parley.NickKey(u.Nickname) != key:
			return parley.Login{}, parley.Errorf(parley.EForbidden, "the token holds %s, not %s", u.Nickname, nick)
		}
		nick = u.Nickname // as it was claimed
	} else {
		// Claim it for a token nobody will see: SetPassword ends it.
		if u, err := n.store.UserByNickname(ctx, nick); err == nil && u.Registered {
			return parley.Login{}, parley.Errorf(parley.ENicknameTaken, "%s is registered already", u.Nickname)
		}
		u, _, err := n.claim(ctx, nick)
		if code := parley.ErrorCode(err); code == parley.ELoginRequired {
			return parley.Login{}, parley.Errorf(parley.ENicknameTaken, "%s is registered already", nick)
		} else if err != nil {
			return parley.Login{}, err
		}
		nick = u.Nickname
	}
	hash, err := password.Hash(ctx, pw, n.cfg.PasswordParams)
	if err != nil {
		return parley.Login{}, fmt.Errorf("register %s: %w", nick, err)
	}
	user, err := n.store.SetPassword(ctx, nick, hash, n.cfg.Now())
	if err != nil {
		return parley.Login{}, fmt.Errorf("register %s: %w", nick, err)
	}
	return n.startLogin(ctx, user)
}

// checkPassword applies the password rules.
func checkPassword(nick, pw string) error {
	switch k := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return parley.Errorf(parley.EInvalid, "the password is not valid UTF-8")
	case k < minPasswordChars || k > maxPasswordChars:
		return parley.Errorf(parley.EInvalid, "a password is %d–%d characters", minPasswordChars, maxPasswordChars)
	case strings.EqualFold(pw, nick):
		return parley.Errorf(parley.EInvalid, "the password must not be the nickname")
	}
	return nil
}

// checkBans refuses nick (an account or nickname ban) and ip.
func (n *Node) checkBans(ctx context.Context, nick string, ip netip.Addr) error {
	st, err := n.modState(ctx)
	if err != nil {
		return err
	}
	now := n.cfg.Now()
	if b := st.ipBan(ip, now); b != nil {
		return bannedError(b)
	}
	if b := st.userBan(parley.NickKey(nick), now); b != nil {
		return bannedError(b)
	}
	return nil
}

// startLogin stores a new login session for user.
func (n *Node) startLogin(ctx context.Context, user parley.User) (parley.Login, error) {
	token := newToken()
	now := n.cfg.Now().UTC()
	as := parley.AuthSession{TokenHash: hashToken(token), Nickname: user.Nickname, CreatedAt: now, ExpiresAt: now.Add(n.cfg.SessionTTL)}
	if err := n.store.AddSession(ctx, as); err != nil {
		return parley.Login{}, fmt.Errorf("start a login session for %s: %w", user.Nickname, err)
	}
	return parley.Login{User: user, Token: token, ExpiresAt: as.ExpiresAt}, nil
}

var errWrongLogin = parley.Errorf(parley.EUnauthorized, "wrong nickname or password")

// Login checks nick's password and starts a login session. A wrong
// nickname or password is EUnauthorized (the same message for both); too
// many failures from ip or for nick are ERateLimited with RetryAfter; a
// banned account is EBanned.
func (n *Node) Login(ctx context.Context, nick, pw string, ip netip.Addr) (parley.Login, error) {
	now := n.cfg.Now()
	ipk, nk := ipKey(ip), parley.NickKey(nick)
	if wait := max(n.logins.ips.wait(ipk, now), n.logins.nicks.wait(nk, now)); wait > 0 {
		return parley.Login{}, &parley.Error{Code: parley.ERateLimited, Message: "too many failed logins; try again later", RetryAfter: wait}
	}
	ok, creds, err := n.checkCredentials(ctx, nick, pw)
	if err != nil {
		return parley.Login{}, err
	}
	if !ok {
		n.logins.ips.fail(ipk, now)
		n.logins.nicks.fail(nk, now)
		return parley.Login{}, errWrongLogin
	}
	n.logins.nicks.clear(nk)
	if err := n.checkBans(ctx, creds.Nickname, ip); err != nil {
		return parley.Login{}, err
	}
	if password.NeedsRehash(creds.PasswordHash, n.cfg.PasswordParams) {
		n.rehash(ctx, creds.Nickname, pw)
	}
	user, err := n.store.UserByNickname(ctx, creds.Nickname)
	if err != nil {
		return parley.Login{}, fmt.Errorf("log in %s: %w", nick, err)
	}
	return n.startLogin(ctx, user)
}

// checkCredentials reports whether password is nick's. An unknown nickname
// or a guest costs a hash all the same, so that timing does not tell
// which nicknames are registered.
func (n *Node) checkCredentials(ctx context.Context, nick, pw string) (bool, parley.Credentials, error) {
	var creds parley.Credentials
	var err error
	if parley.ValidNickname(nick) {
		creds, err = n.store.Credentials(ctx, nick)
		if err != nil && parley.ErrorCode(err) != parley.ENotFound {
			return false, creds, fmt.Errorf("credentials of %s: %w", nick, err)
		}
	}
	hash := creds.PasswordHash
	if hash == "" || hash == keyReserved {
		hash = n.dummyHash(ctx)
	}
	ok, err := password.Verify(ctx, pw, hash)
	if err != nil {
		if ctx.Err() != nil {
			return false, creds, fmt.Errorf("check the password of %s: %w", nick, err)
		}
		n.log.Error("a stored password hash is unreadable", "nick", nick, "err", err)
		ok = false
	}
	return ok && creds.PasswordHash != "" && creds.PasswordHash != keyReserved, creds, nil
}

// keyReserved is the password hash of a nickname an API key posts under:
// registered (nobody may say hello with it), and no password opens it.
const keyReserved = "!api-key"

// reserveKeyName makes name an API key's for good, as a registered
// nickname nobody can log in to: so that nobody can pass for the key in a
// room. A name a key already has (a new key for the same integration) is
// fine; a registered person's, or one a guest holds, is taken.
func (n *Node) reserveKeyName(ctx context.Context, name string) error {
	creds, err := n.store.Credentials(ctx, name)
	switch {
	case err == nil && creds.PasswordHash == keyReserved:
		return nil
	case err == nil && creds.PasswordHash != "":
		return parley.Errorf(parley.ENicknameTaken, "%s is a registered user's nickname; pick another name", name)
	case err != nil && parley.ErrorCode(err) != parley.ENotFound:
		return fmt.Errorf("reserve the key name %s: %w", name, err)
	}
	if n.online(parley.NickKey(name)) {
		return parley.Errorf(parley.ENicknameTaken, "%s is online; pick another name", name)
	}
	now := n.cfg.Now()
	if _, err := n.store.ClaimNickname(ctx, name, hashToken(newToken()), now, now.Add(-n.cfg.NickHold)); err != nil {
		if parley.ErrorCode(err) == parley.ENicknameTaken {
			return parley.Errorf(parley.ENicknameTaken, "a guest holds %s; pick another name", name)
		}
		return fmt.Errorf("reserve the key name %s: %w", name, err)
	}
	if _, err := n.store.SetPassword(ctx, name, keyReserved, now); err != nil {
		return fmt.Errorf("reserve the key name %s: %w", name, err)
	}
	return nil
}

var dummy struct {
	once sync.Once
	hash string
}

// dummyHash is a hash of nothing anybody types, for logins of unknown
// nicknames (with the default parameters; a test's cheap ones make it
// cheap).
func (n *Node) dummyHash(ctx context.Context) string {
	dummy.once.Do(func() {
		dummy.hash, _ = password.Hash(context.WithoutCancel(ctx), newToken(), n.cfg.PasswordParams)
	})
	if dummy.hash == "" {
		return "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	}
	return dummy.hash
}

// rehash stores a hash of pw with the current parameters (they changed
// since it was set); a failure only costs the next login the old ones.
func (n *Node) rehash(ctx context.Context, nick, pw string) {
	hash, err := password.Hash(ctx, pw, n.cfg.PasswordParams)
	if err == nil {
		_, err = n.store.SetPassword(ctx, nick, hash, n.cfg.Now())
	}
	if err != nil {
		n.log.Warn("rehash a password with the current parameters", "nick", nick, "err", err)
	}
}

// Logout ends the login session token (no error if it is unknown).
func (n *Node) Logout(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	if err := n.store.DeleteSession(ctx, hashToken(token)); err != nil {
		return fmt.Errorf("log out: %w", err)
	}
	return nil
}

// ChangePassword checks current, sets next, ends every other session of
// the user (and their connections that came in with them) and returns a
// new login that replaces token.
func (n *Node) ChangePassword(ctx context.Context, token, current, next string) (parley.Login, error) {
	now := n.cfg.Now()
	old := hashToken(token)
	user, err := n.store.SessionUser(ctx, old, now)
	if parley.ErrorCode(err) == parley.ENotFound {
		return parley.Login{}, parley.Errorf(parley.EUnauthorized, "your login has ended; log in again")
	} else if err != nil {
		return parley.Login{}, fmt.Errorf("change password: %w", err)
	}
	nk := parley.NickKey(user.Nickname)
	if wait := n.logins.nicks.wait(nk, now); wait > 0 {
		return parley.Login{}, &parley.Error{Code: parley.ERateLimited, Message: "too many failed attempts; try again later", RetryAfter: wait}
	}
	ok, _, err := n.checkCredentials(ctx, user.Nickname, current)
	if err != nil {
		return parley.Login{}, err
	}
	if !ok {
		n.logins.nicks.fail(nk, now)
		return parley.Login{}, parley.Errorf(parley.EUnauthorized, "the current password is wrong")
	}
	if err := checkPassword(user.Nickname, next); err != nil {
		return parley.Login{}, err
	}
	hash, err := password.Hash(ctx, next, n.cfg.PasswordParams)
	if err != nil {
		return parley.Login{}, fmt.Errorf("change password: %w", err)
	}
	if user, err = n.store.SetPassword(ctx, user.Nickname, hash, now); err != nil {
		return parley.Login{}, fmt.Errorf("change password: %w", err)
	}
	login, err := n.startLogin(ctx, user)
	if err != nil {
		return login, err
	}
	// Every login but the new one ends. Connections that came in with the
	// login that asked stay: it is the person changing their password.
	if err := n.store.DeleteSessions(ctx, user.Nickname, hashToken(login.Token)); err != nil {
		return parley.Login{}, fmt.Errorf("change password: end the other logins: %w", err)
	}
	n.mu.Lock()
	for _, s := range n.users[nk] {
		if s.login == old {
			s.login = hashToken(login.Token)
		}
	}
	n.mu.Unlock()
	n.publish(ctx, &parley.Event{Kind: eventLoginsEnded, Nickname: user.Nickname})
	return login, nil
}

// Authenticate returns the actor and user of a login session token, with
// the role as stored now, or EUnauthorized.
func (n *Node) Authenticate(ctx context.Context, token string) (parley.Actor, parley.User, error) {
	if token == "" {
		return parley.Actor{}, parley.User{}, parley.Errorf(parley.EUnauthorized, "log in first")
	}
	u, err := n.store.SessionUser(ctx, hashToken(token), n.cfg.Now())
	if parley.ErrorCode(err) == parley.ENotFound {
		return parley.Actor{}, parley.User{}, parley.Errorf(parley.EUnauthorized, "your login has ended; log in again")
	} else if err != nil {
		return parley.Actor{}, parley.User{}, fmt.Errorf("authenticate: %w", err)
	}
	st, err := n.modState(ctx)
	if err != nil {
		return parley.Actor{}, parley.User{}, err
	}
	if b := st.ban(parley.BanAccount, parley.NickKey(u.Nickname), n.cfg.Now()); b != nil {
		return parley.Actor{}, parley.User{}, bannedError(b)
	}
	return parley.Actor{Name: u.Nickname, Role: u.Role, Via: "session"}, u, nil
}

// AuthenticateKey returns the actor of an API key secret (Name "key:"+the
// key's name, RoleAdmin, Via "api_key"), or EUnauthorized if it is unknown
// or revoked.
func (n *Node) AuthenticateKey(ctx context.Context, secret string) (parley.Actor, error) {
	bad := parley.Errorf(parley.EUnauthorized, "unknown or revoked API key")
	if !strings.HasPrefix(secret, apiKeyPrefix) {
		return parley.Actor{}, bad
	}
	k, err := n.store.APIKeyByHash(ctx, hashToken(secret))
	switch {
	case parley.ErrorCode(err) == parley.ENotFound:
		return parley.Actor{}, bad
	case err != nil:
		return parley.Actor{}, fmt.Errorf("authenticate an API key: %w", err)
	case !k.RevokedAt.IsZero():
		return parley.Actor{}, bad
	}
	return parley.Actor{Name: "key:" + k.Name, Role: parley.RoleAdmin, Via: "api_key"}, nil
}

// SetRole gives the registered user nick role (RoleUser takes roles away).
// Admins only; an admin cannot take their own admin role (so that one is
// always left). The user's sessions learn it at once (EventRole).
func (n *Node) SetRole(ctx context.Context, by parley.Actor, nick string, role parley.Role) (parley.User, error) {
	if err := requireAdmin(by); err != nil {
		return parley.User{}, err
	}
	if !parley.ValidRole(role) {
		return parley.User{}, parley.Errorf(parley.EInvalid, "a role is %q, %q or none", parley.RoleModerator, parley.RoleAdmin)
	}
	if !parley.ValidNickname(nick) {
		return parley.User{}, parley.Errorf(parley.EInvalid, "%q is not a valid nickname", nick)
	}
	if parley.NickKey(nick) == parley.NickKey(by.Name) && role != parley.RoleAdmin {
		return parley.User{}, parley.Errorf(parley.EForbidden, "you cannot take away your own admin role")
	}
	u, err := n.store.SetRole(ctx, nick, role)
	switch parley.ErrorCode(err) {
	case "":
	case parley.ENotFound:
		return u, parley.Errorf(parley.ENotFound, "nobody is called %s", nick)
	case parley.EInvalid:
		return u, parley.Errorf(parley.EInvalid, "%s is not registered: only registered users have roles", nick)
	default:
		return u, fmt.Errorf("set the role of %s: %w", nick, err)
	}
	detail := string(role)
	if role == parley.RoleUser {
		detail = "none"
	}
	n.logAction(ctx, by, parley.Action{Kind: parley.ActRole, Target: u.Nickname, Detail: detail})
	n.publish(ctx, &parley.Event{Kind: parley.EventRole, Nickname: u.Nickname, Role: role})
	return u, nil
}

// UserInfo is a user as the API lists them.
type UserInfo struct {
	parley.User
	Online bool // connected to some node now
}

// Users lists known users by NickKey after after, at most limit (0: 100,
// at most 1,000). Any authenticated actor.
func (n *Node) Users(ctx context.Context, by parley.Actor, after string, limit int) ([]UserInfo, error) {
	if err := requireActor(by); err != nil {
		return nil, err
	}
	limit = pageLimit(limit, 100, 1000)
	users, err := n.store.Users(ctx, parley.NickKey(after), limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]UserInfo, len(users))
	n.mu.RLock()
	for i, u := range users {
		key := parley.NickKey(u.Nickname)
		out[i] = UserInfo{User: u, Online: len(n.users[key]) > 0 || n.onlineRemotelyLocked(key)}
	}
	n.mu.RUnlock()
	return out, nil
}

// pageLimit is limit, def for 0 (or less), at most most.
func pageLimit(limit, def, most int) int {
	if limit <= 0 {
		return def
	}
	return min(limit, most)
}

// apiKeyPrefix starts every API key secret, so that a bearer credential
// tells what it is.
const apiKeyPrefix = "pk_"

// apiKeyPrefixLen is how much of a secret the store keeps in the clear
// (APIKey.Prefix): "pk_" and 7 characters, to tell keys apart.
const apiKeyPrefixLen = 10

// CreateAPIKey creates an API key called name (a valid nickname: the API
// posts under it) and returns it with its secret, shown this once. Admins
// only.
func (n *Node) CreateAPIKey(ctx context.Context, by parley.Actor, name string) (parley.APIKey, string, error) {
	if err := requireAdmin(by); err != nil {
		return parley.APIKey{}, "", err
	}
	if !parley.ValidNickname(name) {
		return parley.APIKey{}, "", parley.Errorf(parley.EInvalid,
			"a key's name is a nickname: 1–%d letters, digits, '_', '-' or '.'", parley.MaxNicknameLen)
	}
	if err := n.reserveKeyName(ctx, name); err != nil {
		return parley.APIKey{}, "", err
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	secret := apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	k, err := n.store.AddAPIKey(ctx, parley.APIKey{
		Name: name, Prefix: secret[:apiKeyPrefixLen], Hash: hashToken(secret),
		CreatedBy: by.Name, CreatedAt: n.cfg.Now().UTC(),
	})
	if err != nil {
		return parley.APIKey{}, "", fmt.Errorf("create API key %s: %w", name, err)
	}
	n.logAction(ctx, by, parley.Action{Kind: parley.ActCreateKey, Target: fmt.Sprint(k.ID), Detail: k.Name})
	return k, secret, nil
}

// APIKeys lists the API keys, revoked ones included. Admins only.
func (n *Node) APIKeys(ctx context.Context, by parley.Actor) ([]parley.APIKey, error) {
	if err := requireAdmin(by); err != nil {
		return nil, err
	}
	keys, err := n.store.APIKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes the key id: it stops working at once. Admins only.
func (n *Node) RevokeAPIKey(ctx context.Context, by parley.Actor, id int64) (parley.APIKey, error) {
	if err := requireAdmin(by); err != nil {
		return parley.APIKey{}, err
	}
	k, err := n.store.RevokeAPIKey(ctx, id, n.cfg.Now().UTC())
	if parley.ErrorCode(err) == parley.ENotFound {
		return k, parley.Errorf(parley.ENotFound, "no API key %d", id)
	} else if err != nil {
		return k, fmt.Errorf("revoke API key %d: %w", id, err)
	}
	n.logAction(ctx, by, parley.Action{Kind: parley.ActRevokeKey, Target: fmt.Sprint(k.ID), Detail: k.Name})
	return k, nil
}

// requireActor refuses an empty actor (nobody authenticated).
func requireActor(by parley.Actor) error {
	if by.Name == "" {
		return parley.Errorf(parley.EUnauthorized, "log in first")
	}
	return nil
}

// requireModerator refuses actors who may not moderate.
func requireModerator(by parley.Actor) error {
	if err := requireActor(by); err != nil {
		return err
	}
	if !by.Role.CanModerate() {
		return parley.Errorf(parley.EForbidden, "only moderators and admins may do this")
	}
	return nil
}

// requireAdmin refuses actors who are not admins.
func requireAdmin(by parley.Actor) error {
	if err := requireActor(by); err != nil {
		return err
	}
	if !by.Role.IsAdmin() {
		return parley.Errorf(parley.EForbidden, "only admins may do this")
	}
	return nil
}

// logAction writes the action log; the act is done already, so a failure
// is logged, not returned.
func (n *Node) logAction(ctx context.Context, by parley.Actor, a parley.Action) {
	a.Actor, a.At = by.Name, n.cfg.Now().UTC()
	ctx, cancel := storeCtx(context.WithoutCancel(ctx))
	defer cancel()
	if _, err := n.store.LogAction(ctx, a); err != nil {
		n.log.Error("write the action log", "actor", a.Actor, "kind", a.Kind, "target", a.Target, "err", err)
	}
}
