package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/api"
)

// Who may do what, over HTTP: no credential is 401; a user's session is
// 403 on moderation; a moderator's is 403 on roles, keys and
// announcements; API keys and the admin token act as admins.
func TestPermissions(t *testing.T) {
	e := newEnv(t)
	userTok := e.user("ursula", "")
	modTok := e.user("moritz", "moderator")
	adminTok := e.user("ada", "admin")
	keySecret, _ := e.key("ci-bot")
	guestTok := e.guestToken("gustav") // a guest has no API credential
	const (
		who401  = iota // needs a credential
		mod            // moderators and admins
		adm            // admins
		anyCred        // any credential
	)
	ops := []struct {
		method, path string
		body         any
		need         int
	}{
		{"GET", "/api/rooms", nil, anyCred},
		{"GET", "/api/users", nil, anyCred},
		{"GET", "/api/auth/me", nil, anyCred},
		{"POST", "/api/moderation/kick", map[string]any{"nickname": "nobody-here"}, mod},
		{"GET", "/api/moderation/bans", nil, mod},
		{"GET", "/api/moderation/log", nil, mod},
		{"GET", "/api/rooms/lobby/mutes", nil, mod},
		{"PUT", "/api/rooms/lobby/slow-mode", map[string]any{"seconds": 0}, mod},
		{"PUT", "/api/users/ursula/role", map[string]any{"role": ""}, adm},
		{"GET", "/api/keys", nil, adm},
		{"POST", "/api/keys", map[string]any{"name": "other-bot"}, adm},
		{"POST", "/api/announcements", map[string]any{"text": "hi"}, adm},
		{"GET", "/api/announcements?all=true", nil, adm},
	}
	creds := []struct {
		name string
		c    cred
		role int // 0 none, 1 user, 2 moderator, 3 admin
	}{
		{"nothing", anon, 0},
		{"a wrong bearer", bearer("not-a-token"), 0},
		{"a wrong API key", bearer(api.APIKeyPrefix + "nope"), 0},
		{"a guest's token", bearer(guestTok), 0},
		{"a guest's token as the cookie", cookie(guestTok), 0},
		{"a user's session", bearer(userTok), 1},
		{"a user's cookie", cookie(userTok), 1},
		{"a moderator's session", bearer(modTok), 2},
		{"an admin's cookie", cookie(adminTok), 3},
		{"an API key", bearer(keySecret), 3},
		{"the admin token", bearer(adminToken), 3},
	}
	for _, op := range ops {
		for _, c := range creds {
			r := e.do(c.c, op.method, op.path, op.body)
			var want int
			switch {
			case c.role == 0:
				want = http.StatusUnauthorized
			case op.need == mod && c.role < 2, op.need == adm && c.role < 3:
				want = http.StatusForbidden
			}
			switch {
			case want != 0 && r.Status != want:
				t.Errorf("%s %s with %s = %d %s; want %d", op.method, op.path, c.name, r.Status, r.Raw, want)
			case want == 0 && r.Status >= 300 && r.code() != "not_found":
				t.Errorf("%s %s with %s = %d %s; want success", op.method, op.path, c.name, r.Status, r.Raw)
			}
			if want == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with %s: 401 without WWW-Authenticate", op.method, op.path, c.name)
			}
		}
	}
}

// A revoked API key stops working on the next request.
func TestRevokedKeyIsRefused(t *testing.T) {
	e := newEnv(t)
	secret, id := e.key("deploy-bot")
	if !strings.HasPrefix(secret, api.APIKeyPrefix) {
		t.Errorf("secret %q does not start with %s", secret, api.APIKeyPrefix)
	}
	me := e.do(bearer(secret), "GET", "/api/auth/me", nil).must(t, http.StatusOK)
	if me.str("via") != "api_key" || me.str("role") != "admin" {
		t.Errorf("me with a key = %v", me.Body)
	}
	keys := e.do(bearer(adminToken), "GET", "/api/keys", nil).must(t, http.StatusOK).list("keys")
	if len(keys) != 1 || keys[0]["name"] != "deploy-bot" || keys[0]["revoked_at"] != nil || !strings.HasPrefix(secret, keys[0]["prefix"].(string)) {
		t.Errorf("keys = %v", keys)
	}
	e.do(bearer(secret), "DELETE", fmt.Sprintf("/api/keys/%d", int(id)), nil).must(t, http.StatusNoContent)
	if r := e.do(bearer(secret), "GET", "/api/rooms", nil); r.Status != http.StatusUnauthorized || r.code() != "unauthorized" {
		t.Errorf("a revoked key: %d %s; want 401 unauthorized", r.Status, r.Raw)
	}
	keys = e.do(bearer(adminToken), "GET", "/api/keys", nil).must(t, http.StatusOK).list("keys")
	if len(keys) != 1 || keys[0]["revoked_at"] == nil {
		t.Errorf("keys after revoking = %v; want revoked_at set", keys)
	}
}

// A request carried by the cookie that changes something needs the
// server's own (or an allowed) Origin; bearer requests and reads do not.
func TestCookieRequestsNeedAnAllowedOrigin(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.Origins.Allowed = []string{"https://friend.example"} })
	tok := e.user("mod", "moderator")
	kick := map[string]any{"nickname": "nobody"}
	for _, tc := range []struct {
		name   string
		c      cred
		status int
	}{
		{"cookie without Origin", cookie(tok).withOrigin(""), http.StatusForbidden},
		{"cookie from a foreign Origin", cookie(tok).withOrigin("https://evil.example"), http.StatusForbidden},
		{"bearer from a foreign Origin", bearer(tok).withOrigin("https://evil.example"), http.StatusForbidden},
		{"cookie from the server's origin", cookie(tok), http.StatusNoContent},
		{"cookie from an allowed origin", cookie(tok).withOrigin("https://friend.example"), http.StatusNoContent},
		{"bearer without Origin", bearer(tok), http.StatusNoContent},
		{"cookie, Origin null, same-origin fetch", cookie(tok).withOrigin("null").site("same-origin"), http.StatusNoContent},
		{"cookie, no Origin, same-origin fetch", cookie(tok).withOrigin("").site("same-origin"), http.StatusNoContent},
		{"cookie, Origin null, cross-site fetch", cookie(tok).withOrigin("null").site("cross-site"), http.StatusForbidden},
		{"cookie, no Origin, same-site fetch", cookie(tok).withOrigin("").site("same-site"), http.StatusForbidden},
		{"cookie, foreign Origin claiming same-origin", cookie(tok).withOrigin("https://evil.example").site("same-origin"), http.StatusForbidden},
	} {
		r := e.do(tc.c, "POST", "/api/moderation/kick", kick)
		if r.Status == http.StatusNotFound && tc.status == http.StatusNoContent {
			continue // nobody to kick may be not_found: it got past the check
		}
		if r.Status != tc.status {
			t.Errorf("%s: %d %s; want %d", tc.name, r.Status, r.Raw, tc.status)
		}
	}
	if r := e.do(cookie(tok).withOrigin(""), "GET", "/api/moderation/bans", nil); r.Status != http.StatusOK {
		t.Errorf("GET with the cookie and no Origin = %d %s; want 200", r.Status, r.Raw)
	}
	// Login from another site is refused too (login CSRF).
	r := e.do(anon.withOrigin("https://evil.example"), "POST", "/api/auth/login", map[string]any{"nickname": "mod", "password": "pw-mod-long"})
	if r.Status != http.StatusForbidden || r.Cookie != nil {
		t.Errorf("login from a foreign origin = %d %s (cookie %v); want 403 and no cookie", r.Status, r.Raw, r.Cookie)
	}
}

// Too many wrong passwords: 429 with Retry-After, before the password is
// even looked at.
func TestLoginLimiter(t *testing.T) {
	e := newEnv(t)
	e.register("bob")
	var last res
	for i := range 12 {
		last = e.do(anon, "POST", "/api/auth/login", map[string]any{"nickname": "bob", "password": fmt.Sprintf("wrong-%d-guess", i)})
		if last.Status != http.StatusUnauthorized {
			break
		}
		if last.code() != "unauthorized" || last.errMsg("message") != "wrong nickname or password" {
			t.Errorf("wrong password: %s", last.Raw)
		}
	}
	if last.Status != http.StatusTooManyRequests || last.code() != "rate_limited" {
		t.Fatalf("after many failures: %d %s; want 429 rate_limited", last.Status, last.Raw)
	}
	if s, err := strconv.Atoi(last.Header.Get("Retry-After")); err != nil || s <= 0 {
		t.Errorf("Retry-After = %q; want a positive number of seconds", last.Header.Get("Retry-After"))
	}
	// Even the right password waits.
	if r := e.do(anon, "POST", "/api/auth/login", map[string]any{"nickname": "bob", "password": "pw-bob-long"}); r.Status != http.StatusTooManyRequests {
		t.Errorf("right password while limited = %d %s; want 429", r.Status, r.Raw)
	}
	// An unknown nickname answers as a wrong password.
	if r := e.do(anon, "POST", "/api/auth/login", map[string]any{"nickname": "nobody", "password": "whatever-it-is"}); r.Status != http.StatusUnauthorized || r.errMsg("message") != "wrong nickname or password" {
		t.Errorf("unknown nickname = %d %s; want the same 401", r.Status, r.Raw)
	}
}

// checkCookie checks the login cookie's attributes.
func checkCookie(t *testing.T, what string, ck *http.Cookie, secure bool, ttl time.Duration) {
	t.Helper()
	switch {
	case ck == nil:
		t.Fatalf("%s: no %s cookie", what, "parley_session")
	case !ck.HttpOnly, ck.SameSite != http.SameSiteStrictMode, ck.Path != "/", ck.Secure != secure:
		t.Errorf("%s: cookie %q; want HttpOnly, SameSite=Strict, Path=/, Secure %v", what, ck.String(), secure)
	case ttl > 0 && (time.Duration(ck.MaxAge)*time.Second > ttl || time.Duration(ck.MaxAge)*time.Second < ttl-time.Minute):
		t.Errorf("%s: Max-Age %d; want about %v", what, ck.MaxAge, ttl)
	}
}

func TestRegisterLoginPasswordLogout(t *testing.T) {
	e := newEnv(t)
	r := e.do(anon, "POST", "/api/auth/register", map[string]any{"nickname": "Alice", "password": "correct horse"}).must(t, http.StatusCreated)
	checkCookie(t, "register", r.Cookie, false, 48*time.Hour)
	if r.str("nickname") != "Alice" || r.Body["registered"] != true || r.str("role") != "" || r.str("token") != r.Cookie.Value {
		t.Errorf("register = %v", r.Body)
	}
	if exp, err := time.Parse(time.RFC3339, r.str("expires_at")); err != nil || exp.Location() != time.UTC || time.Until(exp) < 47*time.Hour {
		t.Errorf("expires_at = %q (%v); want RFC 3339 UTC, 48 h from now", r.str("expires_at"), err)
	}
	first := r.Cookie.Value

	if r := e.do(anon, "POST", "/api/auth/register", map[string]any{"nickname": "alice", "password": "another one"}); r.Status != http.StatusConflict || r.code() != "nickname_taken" {
		t.Errorf("register a registered nickname = %d %s; want 409 nickname_taken", r.Status, r.Raw)
	}
	if r := e.do(anon, "POST", "/api/auth/register", map[string]any{"nickname": "carol", "password": "short"}); r.Status != http.StatusBadRequest {
		t.Errorf("a short password = %d %s; want 400", r.Status, r.Raw)
	}
	me := e.do(cookie(first), "GET", "/api/auth/me", nil).must(t, http.StatusOK)
	if me.str("nickname") != "Alice" || me.Body["registered"] != true || me.str("via") != "session" {
		t.Errorf("me = %v", me.Body)
	}
	if r := e.do(anon, "POST", "/api/auth/login", map[string]any{"nickname": "alice", "password": "wrong password"}); r.Status != http.StatusUnauthorized || r.Cookie != nil {
		t.Errorf("wrong password = %d %s", r.Status, r.Raw)
	}
	login := e.do(anon, "POST", "/api/auth/login", map[string]any{"nickname": "alice", "password": "correct horse"}).must(t, http.StatusOK)
	checkCookie(t, "login", login.Cookie, false, 48*time.Hour)
	second := login.Cookie.Value

	// Changing the password ends every other session and gives a new one.
	if r := e.do(cookie(second), "POST", "/api/auth/password", map[string]any{"current_password": "nope nope", "new_password": "battery staple"}); r.Status != http.StatusUnauthorized {
		t.Errorf("password change with a wrong current password = %d %s; want 401", r.Status, r.Raw)
	}
	pw := e.do(cookie(second), "POST", "/api/auth/password", map[string]any{"current_password": "correct horse", "new_password": "battery staple"}).must(t, http.StatusOK)
	checkCookie(t, "password", pw.Cookie, false, 48*time.Hour)
	third := pw.Cookie.Value
	for _, old := range []string{first, second} {
		if r := e.do(bearer(old), "GET", "/api/auth/me", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("an old session after a password change = %d %s; want 401", r.Status, r.Raw)
		}
	}
	e.do(bearer(third), "GET", "/api/auth/me", nil).must(t, http.StatusOK)
	e.do(anon, "POST", "/api/auth/login", map[string]any{"nickname": "alice", "password": "battery staple"}).must(t, http.StatusOK)
	if r := e.do(bearer(adminToken), "POST", "/api/auth/password", map[string]any{"current_password": "a", "new_password": "b"}); r.Status != http.StatusForbidden {
		t.Errorf("password change with the admin token = %d %s; want 403", r.Status, r.Raw)
	}

	// Logout ends the session and clears the cookie.
	out := e.do(cookie(third), "POST", "/api/auth/logout", nil).must(t, http.StatusNoContent)
	if out.Cookie == nil || out.Cookie.MaxAge >= 0 || out.Cookie.Value != "" {
		t.Errorf("logout cookie = %v; want cleared", out.Cookie)
	}
	if r := e.do(cookie(third), "GET", "/api/auth/me", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("me after logout = %d %s; want 401", r.Status, r.Raw)
	}
	if r := e.do(anon, "POST", "/api/auth/logout", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("logout with nothing = %d; want 401", r.Status)
	}
}

// The cookie is Secure when the request came over HTTPS: a trusted
// proxy's X-Forwarded-Proto counts, anyone else's does not.
func TestCookieSecureBehindTrustedProxy(t *testing.T) {
	body := map[string]any{"nickname": "dora", "password": "long enough"}
	untrusted := newEnv(t)
	r := untrusted.do(anon, "POST", "/api/auth/register", body, "X-Forwarded-Proto", "https").must(t, http.StatusCreated)
	checkCookie(t, "untrusted proxy", r.Cookie, false, 0)

	trusted := newEnv(t, trustLoopback)
	r = trusted.do(anon, "POST", "/api/auth/register", body, "X-Forwarded-Proto", "https").must(t, http.StatusCreated)
	checkCookie(t, "trusted proxy", r.Cookie, true, 0)
	r = trusted.do(anon, "POST", "/api/auth/login", body).must(t, http.StatusOK)
	checkCookie(t, "trusted proxy, plain http", r.Cookie, false, 0)
}

// Bodies: JSON objects only, at most 64 KiB, no unknown fields.
func TestBodies(t *testing.T) {
	e := newEnv(t)
	admin := bearer(adminToken)
	for _, tc := range []struct {
		name   string
		body   string
		header []string
		status int
		code   string
	}{
		{"an array", `[1]`, nil, 400, "bad_json"},
		{"not JSON", `{"text": `, nil, 400, "bad_json"},
		{"two objects", `{"text":"a"}{"text":"b"}`, nil, 400, "bad_json"},
		{"a number for text", `{"text": 3}`, nil, 400, "bad_json"},
		{"an unknown field", `{"text":"a","colour":"red"}`, nil, 400, "bad_json"},
		{"form encoded", `text=a`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "invalid"},
		{"too large", `{"text":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 413, "too_large"},
		{"empty text", `{"text":"  "}`, nil, 400, "missing_field"},
		{"with charset", `{"text":"ok"}`, []string{"Content-Type", "application/json; charset=utf-8"}, 201, ""},
	} {
		r := e.do(admin, "POST", "/api/rooms/lobby/messages", tc.body, tc.header...)
		if r.Status != tc.status || r.code() != tc.code {
			t.Errorf("%s: %d %s; want %d %s", tc.name, r.Status, r.Raw, tc.status, tc.code)
		}
	}
	if r := e.do(admin, "POST", "/api/rooms/lobby/messages", `{"text":"a","colour":"red"}`); !strings.Contains(r.errMsg("message"), "colour") {
		t.Errorf("unknown field message %q does not name it", r.errMsg("message"))
	}
}

// Integrations: post (idempotently), read history, list rooms and users.
func TestPublishHistoryRoomsUsers(t *testing.T) {
	e := newEnv(t)
	secret, _ := e.key("ci-bot")
	tok := e.user("alice", "")
	room := "café-ops" // non-ASCII, path-escaped
	path := "/api/rooms/" + url.PathEscape(room) + "/messages"

	first := e.do(bearer(secret), "POST", path, map[string]any{"text": "build **412** passed", "client_id": "b412"}).must(t, http.StatusCreated)
	msg := first.Body["message"].(map[string]any)
	if msg["room"] != room || msg["seq"] != 1.0 || msg["html"] != "<p>build <strong>412</strong> passed</p>" || first.Body["duplicate"] != false {
		t.Errorf("post = %v", first.Body)
	}
	if _, err := time.Parse(time.RFC3339, msg["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}
	again := e.do(bearer(secret), "POST", path, map[string]any{"text": "build **412** passed", "client_id": "b412"}).must(t, http.StatusCreated)
	if again.Body["duplicate"] != true || again.Body["message"].(map[string]any)["id"] != msg["id"] {
		t.Errorf("retry = %v; want the first message, duplicate", again.Body)
	}
	e.do(cookie(tok), "POST", path, map[string]any{"text": "thanks @ci-bot"}).must(t, http.StatusCreated)

	h := e.do(bearer(tok), "GET", path, nil).must(t, http.StatusOK)
	msgs := h.list("messages")
	if len(msgs) != 2 || msgs[0]["seq"] != 1.0 || msgs[1]["from"] != "alice" || h.Body["has_more"] != false {
		t.Errorf("history = %v", h.Body)
	}
	if p := e.do(bearer(tok), "GET", path+"?after=1", nil).must(t, http.StatusOK).list("messages"); len(p) != 1 || p[0]["seq"] != 2.0 {
		t.Errorf("history after 1 = %v", p)
	}
	if p := e.do(bearer(tok), "GET", path+"?before=2&limit=1", nil).must(t, http.StatusOK).list("messages"); len(p) != 1 || p[0]["seq"] != 1.0 {
		t.Errorf("history before 2 = %v", p)
	}
	if r := e.do(bearer(tok), "GET", path+"?limit=lots", nil); r.Status != http.StatusBadRequest {
		t.Errorf("limit=lots = %d; want 400", r.Status)
	}

	rooms := e.do(bearer(secret), "GET", "/api/rooms", nil).must(t, http.StatusOK).list("rooms")
	found := false
	for _, r := range rooms {
		if r["name"] == room {
			found = true
			if r["last_seq"] != 2.0 || r["slow_mode_s"] != 0.0 || r["members"] == nil {
				t.Errorf("room = %v", r)
			}
		}
	}
	if !found {
		t.Errorf("rooms = %v; want %s", rooms, room)
	}
	users := e.do(bearer(secret), "GET", "/api/users", nil).must(t, http.StatusOK).list("users")
	if len(users) == 0 || users[0]["nickname"] != "alice" || users[0]["registered"] != true || users[0]["online"] != false {
		t.Errorf("users = %v", users)
	}
	if p := e.do(bearer(secret), "GET", "/api/users?after=alice", nil).must(t, http.StatusOK).list("users"); len(p) != len(users)-1 {
		t.Errorf("users after alice = %v", p)
	}
}

// The login limiter counts per client address, which behind a trusted
// proxy is the X-Forwarded-For address, not the proxy's.
func TestLoginLimiterUsesTheClientAddress(t *testing.T) {
	e := newEnv(t, trustLoopback)
	attempt := func(nick, ip string) res {
		return e.do(anon, "POST", "/api/auth/login", map[string]any{"nickname": nick, "password": "not the password"}, "X-Forwarded-For", ip)
	}
	limited := false
	for i := range 12 { // a different nickname each time: only the address adds up
		if r := attempt(fmt.Sprintf("user%d", i), "203.0.113.5"); r.Status == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("12 failures from one address: never 429")
	}
	if r := attempt("someone", "198.51.100.8"); r.Status != http.StatusUnauthorized {
		t.Errorf("another address behind the same proxy = %d %s; want 401 (not limited)", r.Status, r.Raw)
	}
}
