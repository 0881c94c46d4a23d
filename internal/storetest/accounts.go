package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// MustClaim claims nick for tokenHash at T0 and fails the test on error.
func MustClaim(tb testing.TB, s parley.Store, nick, tokenHash string) parley.User {
	tb.Helper()
	u, err := s.ClaimNickname(ctx, nick, tokenHash, T0, T0.Add(-time.Hour))
	if err != nil {
		tb.Fatalf("ClaimNickname(%s): %v", nick, err)
	}
	return u
}

// MustRegister sets nick's password hash at now and fails the test on
// error.
func MustRegister(tb testing.TB, s parley.Store, nick, passwordHash string, now time.Time) parley.User {
	tb.Helper()
	u, err := s.SetPassword(ctx, nick, passwordHash, now)
	if err != nil {
		tb.Fatalf("SetPassword(%s): %v", nick, err)
	}
	if !u.Registered {
		tb.Fatalf("SetPassword(%s) = %+v; want Registered", nick, u)
	}
	return u
}

// wantCode fails the test unless err has the code want.
func wantCode(tb testing.TB, what string, err error, want string) {
	tb.Helper()
	if got := parley.ErrorCode(err); got != want {
		tb.Errorf("%s: %v (code %q); want %s", what, err, got, want)
	}
}

// A guest who registers keeps the nickname, ClaimedAt and DMCursor; the
// guest claim token ends, and nobody can claim the nickname again, however
// long its owner stays away.
func testRegisteredNicknameIsNeverReleased(t *testing.T, s parley.Store) {
	MustClaim(t, s, "Alice", "tok-a")
	if err := s.TouchUser(ctx, "alice", T0, 0, "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	dm := MustAppend(t, s, parley.Message{Room: parley.DMKey("bob", "alice"), From: "bob", To: "alice", Text: "hi"})
	t1 := T0.Add(time.Minute)
	u := MustRegister(t, s, "ALICE", "hash-1", t1)
	if u.Nickname != "Alice" || !u.ClaimedAt.Equal(T0) || u.DMCursor != 0 || u.Role != parley.RoleUser || u.LastIP != "192.0.2.7" {
		t.Errorf("SetPassword of a guest = %+v; want Alice, claimed at T0, cursor 0 (the DM %d still to deliver), no role, last IP kept", u, dm.ID)
	}
	if _, err := s.UserByToken(ctx, "tok-a"); parley.ErrorCode(err) != parley.ENotFound {
		t.Errorf("UserByToken(the guest token) after SetPassword: %v; want not_found", err)
	}
	far := T0.Add(365 * 24 * time.Hour)
	for _, tok := range []string{"tok-b", "tok-a"} {
		_, err := s.ClaimNickname(ctx, "alice", tok, far, far)
		wantCode(t, fmt.Sprintf("ClaimNickname(alice, %s) a year later", tok), err, parley.ENicknameTaken)
	}
	if u, err := s.UserByNickname(ctx, "alice"); err != nil || !u.Registered || u.Nickname != "Alice" {
		t.Errorf("UserByNickname(alice) = %+v, %v; want Alice, registered", u, err)
	}

	// A nickname nobody held: created, its cursor after the newest message.
	u = MustRegister(t, s, "Bob", "hash-b", t1)
	if u.Nickname != "Bob" || !u.ClaimedAt.Equal(t1) || !u.LastSeen.Equal(t1) || u.DMCursor != dm.ID {
		t.Errorf("SetPassword of a new nickname = %+v; want Bob, claimed and seen at %v, cursor %d", u, t1, dm.ID)
	}
	_, err := s.ClaimNickname(ctx, "bob", "tok-c", far, far)
	wantCode(t, "ClaimNickname of a nickname registered without a claim", err, parley.ENicknameTaken)

	// Changing the password: the cursor does not move back.
	if err := s.TouchUser(ctx, "bob", t1, dm.ID+5, ""); err != nil {
		t.Fatal(err)
	}
	if u := MustRegister(t, s, "bob", "hash-b2", T0.Add(time.Hour)); u.DMCursor != dm.ID+5 || !u.ClaimedAt.Equal(t1) {
		t.Errorf("SetPassword again = %+v; want cursor %d, claimed at %v", u, dm.ID+5, t1)
	}
	if c, err := s.Credentials(ctx, "BOB"); err != nil || c.PasswordHash != "hash-b2" {
		t.Errorf("Credentials after a new password = %+v, %v; want hash-b2", c, err)
	}
}

func testCredentials(t *testing.T, s parley.Store) {
	MustClaim(t, s, "Guest", "tok-g")
	MustRegister(t, s, "Alice", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", T0)
	if c, err := s.Credentials(ctx, "guest"); err != nil || c.Nickname != "Guest" || c.PasswordHash != "" || c.Role != parley.RoleUser {
		t.Errorf("Credentials(guest) = %+v, %v; want Guest, no hash, no role", c, err)
	}
	if _, err := s.SetRole(ctx, "alice", parley.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	c, err := s.Credentials(ctx, "ALICE")
	if err != nil || c.Nickname != "Alice" || c.PasswordHash != "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA" || c.Role != parley.RoleAdmin {
		t.Errorf("Credentials(ALICE) = %+v, %v; want Alice, the hash, admin", c, err)
	}
	_, err = s.Credentials(ctx, "nobody")
	wantCode(t, "Credentials(nobody)", err, parley.ENotFound)
}

func testSetRole(t *testing.T, s parley.Store) {
	MustClaim(t, s, "guest", "tok-g")
	MustRegister(t, s, "Mod", "h", T0)
	_, err := s.SetRole(ctx, "nobody", parley.RoleModerator)
	wantCode(t, "SetRole(nobody)", err, parley.ENotFound)
	_, err = s.SetRole(ctx, "guest", parley.RoleModerator)
	wantCode(t, "SetRole(a guest)", err, parley.EInvalid)
	if u, _ := s.UserByNickname(ctx, "guest"); u.Role != parley.RoleUser {
		t.Errorf("the guest's role after a refused SetRole = %q; want none", u.Role)
	}
	u, err := s.SetRole(ctx, "mod", parley.RoleModerator)
	if err != nil || u.Nickname != "Mod" || u.Role != parley.RoleModerator || !u.Registered {
		t.Errorf("SetRole(mod, moderator) = %+v, %v; want Mod, moderator", u, err)
	}
	if u, _ := s.UserByNickname(ctx, "MOD"); u.Role != parley.RoleModerator {
		t.Errorf("UserByNickname after SetRole: role %q; want moderator", u.Role)
	}
	if u, err := s.SetRole(ctx, "mod", parley.RoleUser); err != nil || u.Role != parley.RoleUser {
		t.Errorf("SetRole(mod, none) = %+v, %v; want no role", u, err)
	}
	// A new password keeps the role.
	if _, err := s.SetRole(ctx, "mod", parley.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if u := MustRegister(t, s, "mod", "h2", T0); u.Role != parley.RoleAdmin {
		t.Errorf("role after a new password = %q; want admin", u.Role)
	}
}

func testUsers(t *testing.T, s parley.Store) {
	for _, n := range []string{"dave", "Carol", "alice", "Bob"} {
		MustClaim(t, s, n, "tok-"+n)
	}
	MustRegister(t, s, "carol", "h", T0)
	if _, err := s.SetRole(ctx, "carol", parley.RoleModerator); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchUser(ctx, "BOB", T0.Add(time.Minute), 0, "2001:db8::1"); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchUser(ctx, "bob", T0.Add(2*time.Minute), 0, ""); err != nil {
		t.Fatal(err)
	}
	names := func(us []parley.User) string {
		out := ""
		for _, u := range us {
			out += fmt.Sprintf("%s(%v,%s,%s) ", u.Nickname, u.Registered, u.Role, u.LastIP)
		}
		return out
	}
	for _, tc := range []struct {
		after string
		limit int
		want  string
	}{
		{"", 2, "alice(false,,) Bob(false,,2001:db8::1) "},
		{"bob", 2, "Carol(true,moderator,) dave(false,,) "},
		{"Bob", 10, "Carol(true,moderator,) dave(false,,) "},
		{"dave", 10, ""},
	} {
		got, err := s.Users(ctx, tc.after, tc.limit)
		if err != nil || names(got) != tc.want || got == nil {
			t.Errorf("Users(%q, %d) = %q (%#v), %v; want %q", tc.after, tc.limit, names(got), got == nil, err, tc.want)
		}
	}
}

func testSessions(t *testing.T, s parley.Store) {
	MustRegister(t, s, "Alice", "h", T0)
	MustRegister(t, s, "bob", "h", T0)
	exp := T0.Add(30 * 24 * time.Hour)
	for _, as := range []parley.AuthSession{
		{TokenHash: "s1", Nickname: "Alice", CreatedAt: T0, ExpiresAt: exp},
		{TokenHash: "s2", Nickname: "alice", CreatedAt: T0, ExpiresAt: exp},
		{TokenHash: "s3", Nickname: "ALICE", CreatedAt: T0, ExpiresAt: exp},
		{TokenHash: "b1", Nickname: "bob", CreatedAt: T0, ExpiresAt: exp},
	} {
		if err := s.AddSession(ctx, as); err != nil {
			t.Fatalf("AddSession(%s): %v", as.TokenHash, err)
		}
	}
	if u, err := s.SessionUser(ctx, "s1", T0.Add(time.Hour)); err != nil || u.Nickname != "Alice" || !u.Registered {
		t.Errorf("SessionUser(s1) = %+v, %v; want Alice, registered", u, err)
	}
	_, err := s.SessionUser(ctx, "s1", exp)
	wantCode(t, "SessionUser at ExpiresAt", err, parley.ENotFound)
	_, err = s.SessionUser(ctx, "s1", exp.Add(time.Hour))
	wantCode(t, "SessionUser after ExpiresAt", err, parley.ENotFound)
	_, err = s.SessionUser(ctx, "nope", T0)
	wantCode(t, "SessionUser(unknown)", err, parley.ENotFound)

	if err := s.DeleteSession(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionUser(ctx, "s1", T0)
	wantCode(t, "SessionUser of a deleted session", err, parley.ENotFound)
	if err := s.DeleteSession(ctx, "s1"); err != nil {
		t.Errorf("DeleteSession of no session: %v; want nil", err)
	}

	if err := s.DeleteSessions(ctx, "alice", "s3"); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionUser(ctx, "s2", T0)
	wantCode(t, "SessionUser(s2) after DeleteSessions keeping s3", err, parley.ENotFound)
	for tok, who := range map[string]string{"s3": "Alice", "b1": "bob"} {
		if u, err := s.SessionUser(ctx, tok, T0); err != nil || u.Nickname != who {
			t.Errorf("SessionUser(%s) after DeleteSessions(alice, s3) = %+v, %v; want %s", tok, u, err, who)
		}
	}
	if err := s.DeleteSessions(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionUser(ctx, "s3", T0)
	wantCode(t, "SessionUser(s3) after DeleteSessions keeping none", err, parley.ENotFound)
}

func testAPIKeys(t *testing.T, s parley.Store) {
	if keys, err := s.APIKeys(ctx); err != nil || keys == nil || len(keys) != 0 {
		t.Errorf("APIKeys of a new store = %#v, %v; want an empty slice", keys, err)
	}
	k1, err := s.AddAPIKey(ctx, parley.APIKey{Name: "ci-bot", Prefix: "pk_abcd", Hash: "h1", CreatedBy: "alice", CreatedAt: T0})
	if err != nil || k1.ID == 0 {
		t.Fatalf("AddAPIKey = %+v, %v", k1, err)
	}
	k2, err := s.AddAPIKey(ctx, parley.APIKey{Name: "feed", Prefix: "pk_efgh", Hash: "h2", CreatedBy: "operator", CreatedAt: T0.Add(time.Second)})
	if err != nil || k2.ID <= k1.ID {
		t.Fatalf("second AddAPIKey = %+v, %v; want an ID above %d", k2, err, k1.ID)
	}
	if got, err := s.APIKeyByHash(ctx, "h2"); err != nil || !sameKey(got, k2) {
		t.Errorf("APIKeyByHash(h2) = %+v, %v; want %+v", got, err, k2)
	}
	_, err = s.APIKeyByHash(ctx, "h3")
	wantCode(t, "APIKeyByHash(unknown)", err, parley.ENotFound)

	t1, t2 := T0.Add(time.Hour), T0.Add(2*time.Hour)
	r, err := s.RevokeAPIKey(ctx, k1.ID, t1)
	if err != nil || r.ID != k1.ID || r.Name != "ci-bot" || !r.RevokedAt.Equal(t1) {
		t.Errorf("RevokeAPIKey = %+v, %v; want ci-bot revoked at %v", r, err, t1)
	}
	if r, err := s.RevokeAPIKey(ctx, k1.ID, t2); err != nil || !r.RevokedAt.Equal(t1) {
		t.Errorf("RevokeAPIKey again = %+v, %v; want still revoked at %v", r, err, t1)
	}
	_, err = s.RevokeAPIKey(ctx, k2.ID+100, t1)
	wantCode(t, "RevokeAPIKey(unknown)", err, parley.ENotFound)
	if got, err := s.APIKeyByHash(ctx, "h1"); err != nil || !got.RevokedAt.Equal(t1) {
		t.Errorf("APIKeyByHash of a revoked key = %+v, %v; want it, revoked at %v", got, err, t1)
	}
	keys, err := s.APIKeys(ctx)
	want := k1
	want.RevokedAt = t1
	if err != nil || len(keys) != 2 || !sameKey(keys[0], want) || !sameKey(keys[1], k2) {
		t.Errorf("APIKeys = %+v, %v; want [%+v %+v]", keys, err, want, k2)
	}
}

func sameKey(a, b parley.APIKey) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Prefix == b.Prefix && a.Hash == b.Hash && a.CreatedBy == b.CreatedBy &&
		a.CreatedAt.Equal(b.CreatedAt) && a.RevokedAt.Equal(b.RevokedAt) && a.RevokedAt.IsZero() == b.RevokedAt.IsZero()
}
