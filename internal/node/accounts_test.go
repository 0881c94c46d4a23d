package node_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/node"
)

// Who may do what: an empty actor nothing, a user no moderation, a
// moderator no administration and nothing to moderators or admins, an
// admin everything but demoting themselves.
func TestPermissionBoundaries(t *testing.T) {
	e := newEnv(t, node.Config{})
	e.register("mod", parley.RoleModerator)
	e.register("mod2", parley.RoleModerator)
	e.register("boss", parley.RoleAdmin)
	e.register("bob", parley.RoleUser)
	member(t, e.n, "guest1", "lobby")
	if _, _, err := e.n.Post(ctx, operator, "lobby", "first", ""); err != nil {
		t.Fatal(err)
	}
	nobody, user, mod, admin := parley.Actor{}, actor("bob", parley.RoleUser), actor("mod", parley.RoleModerator), actor("boss", parley.RoleAdmin)

	moderation := map[string]func(parley.Actor) error{
		"kick": func(a parley.Actor) error { return e.n.Kick(ctx, a, "guest1", "") },
		"ban": func(a parley.Actor) error {
			_, err := e.n.Ban(ctx, a, node.BanRequest{Kind: parley.BanNickname, Target: "spammer"})
			return err
		},
		"unban": func(a parley.Actor) error { _, err := e.n.Unban(ctx, a, 999); return err },
		"bans":  func(a parley.Actor) error { _, err := e.n.Bans(ctx, a); return err },
		"mute": func(a parley.Actor) error {
			_, err := e.n.Mute(ctx, a, "lobby", "guest1", time.Minute, "")
			return err
		},
		"unmute": func(a parley.Actor) error { return e.n.Unmute(ctx, a, "lobby", "guest1") },
		"mutes":  func(a parley.Actor) error { _, err := e.n.Mutes(ctx, a, ""); return err },
		"delete": func(a parley.Actor) error { _, err := e.n.DeleteMessage(ctx, a, "lobby", 1); return err },
		"slow": func(a parley.Actor) error {
			_, err := e.n.SetSlowMode(ctx, a, "lobby", 0)
			return err
		},
		"log": func(a parley.Actor) error { _, err := e.n.ActionLog(ctx, a, 0, 0); return err },
	}
	admin_ := map[string]func(parley.Actor) error{
		"role": func(a parley.Actor) error {
			_, err := e.n.SetRole(ctx, a, "bob", parley.RoleModerator)
			return err
		},
		"create key": func(a parley.Actor) error { _, _, err := e.n.CreateAPIKey(ctx, a, "bot"); return err },
		"keys":       func(a parley.Actor) error { _, err := e.n.APIKeys(ctx, a); return err },
		"revoke key": func(a parley.Actor) error { _, err := e.n.RevokeAPIKey(ctx, a, 999); return err },
		"announce": func(a parley.Actor) error {
			_, err := e.n.Announce(ctx, a, node.AnnouncementRequest{Text: "hi"})
			return err
		},
		"all announcements":   func(a parley.Actor) error { _, err := e.n.AllAnnouncements(ctx, a); return err },
		"delete announcement": func(a parley.Actor) error { _, err := e.n.DeleteAnnouncement(ctx, a, 999); return err },
	}
	any := map[string]func(parley.Actor) error{
		"users": func(a parley.Actor) error { _, err := e.n.Users(ctx, a, "", 0); return err },
		"post": func(a parley.Actor) error {
			_, _, err := e.n.Post(ctx, a, "lobby", "hello", "")
			return err
		},
		"rooms":   func(a parley.Actor) error { _, err := e.n.RoomList(ctx, a); return err },
		"history": func(a parley.Actor) error { _, _, err := e.n.RoomHistory(ctx, a, "lobby", 0, 0, 0); return err },
	}
	for name, f := range moderation {
		wantCode(t, "nobody: "+name, f(nobody), parley.EUnauthorized)
		wantCode(t, "user: "+name, f(user), parley.EForbidden)
	}
	for name, f := range admin_ {
		wantCode(t, "nobody: "+name, f(nobody), parley.EUnauthorized)
		wantCode(t, "user: "+name, f(user), parley.EForbidden)
		wantCode(t, "moderator: "+name, f(mod), parley.EForbidden)
	}
	for name, f := range any {
		wantCode(t, "nobody: "+name, f(nobody), parley.EUnauthorized)
		wantCode(t, "user: "+name, f(user), "")
	}
	// Moderators moderate; admins administer.
	for _, name := range []string{"bans", "mutes", "log", "slow", "delete"} {
		wantCode(t, "moderator: "+name, moderation[name](mod), "")
	}
	for _, name := range []string{"role", "keys", "all announcements", "announce"} {
		wantCode(t, "admin: "+name, admin_[name](admin), "")
	}

	// Nobody acts on themselves; moderators not on moderators or admins.
	for _, kind := range []parley.BanKind{parley.BanAccount, parley.BanNickname, parley.BanIP} {
		for _, target := range []string{"mod2", "boss", "mod"} {
			_, err := e.n.Ban(ctx, mod, node.BanRequest{Kind: kind, Target: target})
			wantCode(t, "moderator bans "+string(kind)+" "+target, err, parley.EForbidden)
		}
	}
	_, err := e.n.Ban(ctx, admin, node.BanRequest{Kind: parley.BanAccount, Target: "boss"})
	wantCode(t, "admin bans themselves", err, parley.EForbidden)
	_, err = e.n.Mute(ctx, mod, "lobby", "boss", 0, "")
	wantCode(t, "moderator mutes an admin", err, parley.EForbidden)
	b, err := e.n.Ban(ctx, admin, node.BanRequest{Kind: parley.BanAccount, Target: "mod2", For: time.Hour})
	wantCode(t, "admin bans a moderator", err, "")
	if _, err := e.n.Unban(ctx, mod, b.ID); err != nil {
		t.Errorf("moderator lifts a ban: %v", err)
	}

	// Roles: admins only, registered users only, not their own admin role.
	_, err = e.n.SetRole(ctx, admin, "boss", parley.RoleUser)
	wantCode(t, "admin demotes themselves", err, parley.EForbidden)
	_, err = e.n.SetRole(ctx, admin, "guest1", parley.RoleModerator)
	wantCode(t, "role for a guest", err, parley.EInvalid)
	_, err = e.n.SetRole(ctx, admin, "nobody", parley.RoleModerator)
	wantCode(t, "role for nobody", err, parley.ENotFound)
	_, err = e.n.SetRole(ctx, admin, "bob", "king")
	wantCode(t, "unknown role", err, parley.EInvalid)
	if u, err := e.n.SetRole(ctx, admin, "bob", parley.RoleAdmin); err != nil || u.Role != parley.RoleAdmin {
		t.Errorf("admin makes bob admin: %+v, %v", u, err)
	}
	if _, u, err := e.n.Authenticate(ctx, mustLogin(t, e, "bob").Token); err != nil || u.Role != parley.RoleAdmin {
		t.Errorf("bob's role as authenticated: %+v, %v; want admin", u, err)
	}

	// API keys: admins create them; a revoked key stops working at once.
	k, secret, err := e.n.CreateAPIKey(ctx, admin, "ci-bot")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "pk_") || len(secret) != 3+43 || k.Prefix != secret[:10] || strings.Contains(k.Hash, secret) {
		t.Errorf("key %+v, secret %q: want pk_ and 32 random bytes base64url, the prefix its first 10 characters, no secret in the key", k, secret)
	}
	a, err := e.n.AuthenticateKey(ctx, secret)
	if err != nil || a.Name != "key:ci-bot" || a.Role != parley.RoleAdmin || a.Via != "api_key" {
		t.Errorf("AuthenticateKey = %+v, %v", a, err)
	}
	m, _, err := e.n.Post(ctx, a, "lobby", "build green", "")
	if err != nil || m.From != "ci-bot" {
		t.Errorf("a key posts: %+v, %v; want from ci-bot", m, err)
	}
	// Nobody can pass for the key: its name is taken for good, no password
	// opens it, and a second key may share it (rotation).
	_, f := hello(t, e.n, node.Peer{}, parley.Command{Nickname: "CI-Bot"})
	wantCode(t, "a guest asking for a key's name", errOf(f), parley.ELoginRequired)
	_, err = e.n.Login(ctx, "ci-bot", "anything at all", netip.Addr{})
	wantCode(t, "a login as a key's name", err, parley.EUnauthorized)
	_, err = e.n.Register(ctx, "ci-bot", "a long password", "", netip.Addr{})
	wantCode(t, "registering a key's name", err, parley.ENicknameTaken)
	if _, _, err := e.n.CreateAPIKey(ctx, admin, "ci-bot"); err != nil {
		t.Errorf("a second key for the same integration: %v", err)
	}
	guest(t, e.n, "guesty", "")
	_, _, err = e.n.CreateAPIKey(ctx, admin, "guesty")
	wantCode(t, "a key named after a guest online", err, parley.ENicknameTaken)
	_, err = e.n.AuthenticateKey(ctx, secret[:len(secret)-1]+"x")
	wantCode(t, "a wrong secret", err, parley.EUnauthorized)
	_, err = e.n.AuthenticateKey(ctx, "sk_whatever")
	wantCode(t, "not a key", err, parley.EUnauthorized)
	if _, err := e.n.RevokeAPIKey(ctx, admin, k.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.n.AuthenticateKey(ctx, secret)
	wantCode(t, "a revoked key", err, parley.EUnauthorized)
	_, err = e.n.RevokeAPIKey(ctx, admin, 12345)
	wantCode(t, "revoke an unknown key", err, parley.ENotFound)

	// Every act is in the log, with its actor.
	log, err := e.n.ActionLog(ctx, mod, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[parley.ActionKind]string{}
	for _, a := range log {
		seen[a.Kind] = a.Actor
	}
	for kind, who := range map[parley.ActionKind]string{
		parley.ActBan: "boss", parley.ActUnban: "mod", parley.ActRole: "boss", parley.ActCreateKey: "boss",
		parley.ActRevokeKey: "boss", parley.ActAnnounce: "boss", parley.ActSlowMode: "mod",
	} {
		if seen[kind] != who {
			t.Errorf("action log: %s by %q; want by %q (log %+v)", kind, seen[kind], who, log)
		}
	}
}

func mustLogin(t *testing.T, e *env, nick string) parley.Login {
	t.Helper()
	l, err := e.n.Login(ctx, nick, "pw-of-"+nick, netip.Addr{})
	if err != nil {
		t.Fatalf("login %s: %v", nick, err)
	}
	return l
}

// A registered nickname is closed to guests; its login opens it, from
// several connections at once, by token or by the page's cookie.
func TestRegisteredNicknameNeedsALogin(t *testing.T) {
	e := newEnv(t, node.Config{})
	l := e.register("Alice", parley.RoleModerator)
	if !l.User.Registered || l.Token == "" || !l.ExpiresAt.After(time.Now().Add(29*24*time.Hour)) {
		t.Errorf("register: %+v; want a registered user and a 30-day login", l)
	}
	_, f := hello(t, e.n, node.Peer{}, parley.Command{Nickname: "alice"})
	if f.Code != parley.ELoginRequired || !strings.Contains(f.Message, "Alice is registered") {
		t.Errorf("hello as alice without a login: %+v; want login_required", f)
	}
	c1, f := hello(t, e.n, node.Peer{}, parley.Command{Token: l.Token})
	if f.T != "reply" || f.Reply.Nickname != "Alice" || !f.Reply.Reg || f.Reply.Role != parley.RoleModerator || f.Reply.Token != l.Token {
		t.Errorf("hello with the login token: %+v", f)
	}
	// While she is online, too.
	_, f = hello(t, e.n, node.Peer{}, parley.Command{Nickname: "ALICE"})
	wantCode(t, "hello as alice while she is online", errOf(f), parley.ELoginRequired)
	for _, cmd := range []parley.Command{{}, {Nickname: "alice"}} {
		_, f = hello(t, e.n, node.Peer{Token: l.Token}, cmd)
		if f.T != "reply" || f.Reply.Nickname != "Alice" || f.Reply.Token != "" || !f.Reply.Reg {
			t.Errorf("hello %+v with the cookie: %+v; want Alice, no token in the welcome", cmd, f)
		}
	}
	// The cookie and another, free nickname: a guest.
	_, f = hello(t, e.n, node.Peer{Token: l.Token}, parley.Command{Nickname: "incognito"})
	if f.T != "reply" || f.Reply.Nickname != "incognito" || f.Reply.Reg || f.Reply.Role != "" || f.Reply.Token == "" {
		t.Errorf("hello as another nickname with the cookie: %+v; want the guest incognito", f)
	}
	if f := c1.do(parley.Command{Op: parley.OpRooms}); f.T != "reply" {
		t.Errorf("the first connection after the others: %+v", f)
	}
	// A cookie of a login that ended is no credential: a guest needs a nickname.
	if err := e.n.Logout(ctx, l.Token); err != nil {
		t.Fatal(err)
	}
	_, f = hello(t, e.n, node.Peer{Token: l.Token}, parley.Command{})
	wantCode(t, "hello {} with an ended cookie", errOf(f), parley.EMissingField)
	_, f = hello(t, e.n, node.Peer{}, parley.Command{Token: l.Token})
	wantCode(t, "hello with an ended login token", errOf(f), parley.EBadToken)
	if f := c1.do(parley.Command{Op: parley.OpRooms}); f.T != "reply" {
		t.Errorf("logout closed a connection: %+v", f)
	}
}

func errOf(f wireFrame) error {
	if f.T != "error" {
		return nil
	}
	return parley.Errorf(f.Code, "%s", f.Message)
}

// Register: with the guest token one holds, or a free nickname; never a
// registered or held one; password rules.
func TestRegister(t *testing.T) {
	e := newEnv(t, node.Config{})
	bob, f := hello(t, e.n, node.Peer{}, parley.Command{Nickname: "Bob"})
	token := f.Reply.Token
	_, err := e.n.Register(ctx, "bob", "long enough", "", netip.Addr{})
	wantCode(t, "register a nickname someone is online with", err, parley.ENicknameTaken)
	carol := guest(t, e.n, "carol", "")
	_ = carol
	_, err = e.n.Register(ctx, "carol", "long enough", token, netip.Addr{})
	wantCode(t, "register carol with bob's token", err, parley.EForbidden)
	_, err = e.n.Register(ctx, "bob", "long enough", "not-a-token", netip.Addr{})
	wantCode(t, "register with an unknown token", err, parley.EBadToken)
	for _, pw := range []string{"short", strings.Repeat("x", 257)} {
		_, err = e.n.Register(ctx, "bob", pw, token, netip.Addr{})
		wantCode(t, "password "+pw[:min(len(pw), 8)], err, parley.EInvalid)
	}
	_, err = e.n.Register(ctx, "LongName", "longname", "", netip.Addr{})
	wantCode(t, "password = nickname", err, parley.EInvalid)
	l, err := e.n.Register(ctx, "bob", "long enough", token, netip.Addr{})
	if err != nil || l.User.Nickname != "Bob" || !l.User.Registered {
		t.Fatalf("register with the held token: %+v, %v", l, err)
	}
	// The guest token is spent; the connection stays.
	_, f = hello(t, e.n, node.Peer{}, parley.Command{Token: token})
	wantCode(t, "hello with the spent guest token", errOf(f), parley.EBadToken)
	if f := bob.do(parley.Command{Op: parley.OpRooms}); f.T != "reply" {
		t.Errorf("bob's connection after registering: %+v", f)
	}
	_, err = e.n.Register(ctx, "bob", "another one", l.Token, netip.Addr{})
	wantCode(t, "register bob again", err, parley.EBadToken)
	_, err = e.n.Register(ctx, "bob", "another one", "", netip.Addr{})
	wantCode(t, "register bob again without a token", err, parley.ENicknameTaken)
	// A free nickname, nobody ever had it.
	if l, err := e.n.Register(ctx, "dora", "long enough", "", netip.Addr{}); err != nil || l.User.Nickname != "dora" {
		t.Errorf("register a free nickname: %+v, %v", l, err)
	}
	_, f = hello(t, e.n, node.Peer{}, parley.Command{Nickname: "dora"})
	wantCode(t, "dora as a guest", errOf(f), parley.ELoginRequired)
}

// Login: one message for a wrong nickname or password; per nickname at
// most 5 failures in 15 minutes, per address 10 in 10 minutes; then
// rate_limited until the oldest failure ages out.
func TestLoginFailuresAreLimited(t *testing.T) {
	clock := newClock()
	e := newEnv(t, node.Config{Now: clock.Now})
	e.register("alice", parley.RoleUser)
	ip1 := netip.MustParseAddr("198.51.100.1")
	_, errUnknown := e.n.Login(ctx, "nobody", "whatever-pw", netip.MustParseAddr("198.51.100.99"))
	_, errWrong := e.n.Login(ctx, "alice", "wrong-pw-1", netip.MustParseAddr("198.51.100.98"))
	wantCode(t, "unknown nickname", errUnknown, parley.EUnauthorized)
	if parley.ErrorMessage(errUnknown) != parley.ErrorMessage(errWrong) || parley.ErrorMessage(errWrong) != "wrong nickname or password" {
		t.Errorf("messages %q and %q; want the same for an unknown nickname and a wrong password", parley.ErrorMessage(errUnknown), parley.ErrorMessage(errWrong))
	}
	for i := 0; i < 4; i++ { // 5 with the one above
		clock.advance(time.Minute)
		_, err := e.n.Login(ctx, "alice", "wrong-pw", ip1)
		wantCode(t, "wrong password", err, parley.EUnauthorized)
	}
	clock.advance(time.Minute)
	_, err := e.n.Login(ctx, "alice", "pw-of-alice", ip1)
	wantCode(t, "the right password after 5 failures", err, parley.ERateLimited)
	// The first failure was 5 minutes ago: it ages out in 10.
	if got := parley.ErrorRetryAfter(err); got != 10*time.Minute {
		t.Errorf("retry after %v; want 10m (the oldest failure ages out)", got)
	}
	clock.advance(10 * time.Minute)
	if _, err := e.n.Login(ctx, "alice", "pw-of-alice", ip1); err != nil {
		t.Fatalf("login once the oldest failure aged out: %v", err)
	}
	// Success cleared the nickname's count: 4 more failures are allowed.
	for i := 0; i < 4; i++ {
		_, err := e.n.Login(ctx, "alice", "wrong", netip.MustParseAddr("203.0.113.1"))
		wantCode(t, "a failure after a success", err, parley.EUnauthorized)
	}

	// Per address: 10 failures, whatever the nicknames.
	ip2 := netip.MustParseAddr("192.0.2.50")
	for i := 0; i < 10; i++ {
		_, err := e.n.Login(ctx, "someone"+string(rune('a'+i)), "wrong", ip2)
		wantCode(t, "failure from one address", err, parley.EUnauthorized)
	}
	_, err = e.n.Login(ctx, "fresh", "wrong", ip2)
	wantCode(t, "11th failure from one address", err, parley.ERateLimited)
	_, err = e.n.Login(ctx, "fresh", "wrong", netip.MustParseAddr("192.0.2.51"))
	wantCode(t, "another address", err, parley.EUnauthorized)
	clock.advance(10 * time.Minute)
	_, err = e.n.Login(ctx, "fresh", "wrong", ip2)
	wantCode(t, "the address after 10 minutes", err, parley.EUnauthorized)
}

// Changing the password ends every other login, and closes the
// connections that came in with them; the one that asked goes on.
func TestChangePasswordEndsOtherLogins(t *testing.T) {
	e := newEnv(t, node.Config{})
	first := e.register("alice", parley.RoleUser)
	second := mustLogin(t, e, "alice")
	mine, f := hello(t, e.n, node.Peer{Token: first.Token}, parley.Command{})
	if f.T != "reply" {
		t.Fatal(f)
	}
	other, _ := hello(t, e.n, node.Peer{}, parley.Command{Token: second.Token})
	otherCookie, _ := hello(t, e.n, node.Peer{Token: second.Token}, parley.Command{})

	_, err := e.n.ChangePassword(ctx, first.Token, "wrong current", "a new password")
	wantCode(t, "wrong current password", err, parley.EUnauthorized)
	_, err = e.n.ChangePassword(ctx, first.Token, "pw-of-alice", "1234567")
	wantCode(t, "new password too short", err, parley.EInvalid)
	l, err := e.n.ChangePassword(ctx, first.Token, "pw-of-alice", "a new password")
	if err != nil || l.Token == "" || l.Token == first.Token {
		t.Fatalf("change password: %+v, %v", l, err)
	}
	for name, c := range map[string]*conn{"token": other, "cookie": otherCookie} {
		why, frame := c.awaitClosed()
		if parley.ErrorCode(why) != parley.EKicked || frame.Code != parley.EKicked || frame.Message != "password changed" {
			t.Errorf("the other login's connection (%s): closed %v after %+v; want kicked, password changed", name, why, frame)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if mine.closedWith() != nil {
		t.Errorf("the connection that changed the password was closed: %v", mine.closedWith())
	}
	for name, tok := range map[string]string{"first": first.Token, "second": second.Token} {
		_, _, err := e.n.Authenticate(ctx, tok)
		wantCode(t, "the "+name+" login after the change", err, parley.EUnauthorized)
	}
	if a, _, err := e.n.Authenticate(ctx, l.Token); err != nil || a.Name != "alice" || a.Via != "session" {
		t.Errorf("the new login: %+v, %v", a, err)
	}
	_, err = e.n.Login(ctx, "alice", "pw-of-alice", netip.Addr{})
	wantCode(t, "the old password", err, parley.EUnauthorized)
	if _, err := e.n.Login(ctx, "alice", "a new password", netip.Addr{}); err != nil {
		t.Errorf("the new password: %v", err)
	}
}
