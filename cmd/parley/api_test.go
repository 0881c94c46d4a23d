package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/wstest"
)

// apiCall makes an HTTP request to the API with a bearer secret or the
// login cookie (with the server's own Origin), and returns the answer.
func apiCall(t *testing.T, method, url, bearer, cookie string, body any) (int, map[string]any, *http.Response) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "parley_session", Value: cookie})
		req.Header.Set("Origin", strings.TrimSuffix(url[:strings.Index(url, "/api/")], "/"))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp
}

// userRun runs "parley user args…" with stdin and the environment env.
func userRun(t *testing.T, stdin string, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := userCmd(t.Context(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return out.String() + errOut.String(), err
}

// parley user adds people to the store serve uses; they log in over HTTP
// with the role given, and the page's cookie lets the WebSocket in as them.
func TestUserCommandThenLoginOverHTTP(t *testing.T) {
	db := filepath.Join(t.TempDir(), "parley.db")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("bob's long password\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stdin string
		env   map[string]string
		args  []string
		want  string
	}{
		{"root password 1\n", nil, []string{"add", "--admin", "--db", db, "root"}, "user root added (role: admin)"},
		{"", nil, []string{"add", "--db", db, "--password-file", pwFile, "bob"}, "user bob added (role: none)"},
		{"", map[string]string{"PARLEY_PASSWORD": "carol's secret", "PARLEY_DB": db}, []string{"add", "--moderator", "carol"}, "user carol added (role: moderator)"},
		{"", nil, []string{"role", "--db", db, "bob", "moderator"}, "bob is now moderator"},
		{"", nil, []string{"role", "--db", db, "carol", "none"}, "carol is now none"},
	} {
		out, err := userRun(t, tc.stdin, tc.env, tc.args...)
		if err != nil || !strings.Contains(out, tc.want) {
			t.Fatalf("parley user %v: %v: %q; want %q", tc.args, err, out, tc.want)
		}
	}
	for _, tc := range []struct {
		stdin string
		args  []string
	}{
		{"another password\n", []string{"add", "--db", db, "root"}},     // already registered
		{"short\n", []string{"add", "--db", db, "dave"}},                // password too short
		{"dave's password\n", []string{"add", "--db", db, "no spaces"}}, // not a nickname
		{"", []string{"add", "--db", db, "erin"}},                       // no password at all
		{"", []string{"role", "--db", db, "nobody", "admin"}},
		{"", []string{"role", "--db", db, "bob", "king"}},
		{"x\n", []string{"add", "--admin", "--moderator", "--db", db, "frank"}},
	} {
		if out, err := userRun(t, tc.stdin, nil, tc.args...); err == nil {
			t.Errorf("parley user %v succeeded: %q", tc.args, out)
		}
	}
	list, err := userRun(t, "", nil, "list", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"root  ", "admin", "bob", "moderator", "carol"} {
		if !strings.Contains(list, want) {
			t.Errorf("parley user list = %q; want %q in it", list, want)
		}
	}
	// The dispatcher knows the command.
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"user", "list", "--db", db}, &out, &errOut, func(string) string { return "" }); code != 0 || !strings.Contains(out.String(), "root") {
		t.Errorf("parley user list: exit %d: %s %s", code, out.String(), errOut.String())
	}

	s := startServerDB(t, db, "--session-ttl", "2h")
	status, body, resp := apiCall(t, "POST", s.URL()+"/api/auth/login", "", "", map[string]any{"nickname": "root", "password": "root password 1"})
	if status != http.StatusOK || body["role"] != "admin" || body["registered"] != true {
		t.Fatalf("login: %d %v", status, body)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "parley_session" {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge < 7100 || ck.MaxAge > 7200 {
		t.Fatalf("login cookie = %v; want HttpOnly, SameSite=Strict, Max-Age 2h (--session-ttl)", ck)
	}
	if status, me, _ := apiCall(t, "GET", s.URL()+"/api/auth/me", "", ck.Value, nil); status != http.StatusOK || me["nickname"] != "root" || me["role"] != "admin" {
		t.Errorf("me: %d %v", status, me)
	}
	if status, _, _ := apiCall(t, "POST", s.URL()+"/api/auth/login", "", "", map[string]any{"nickname": "bob", "password": "bob's long password"}); status != http.StatusOK {
		t.Errorf("bob's login (password file): %d", status)
	}
	// The action log has what the command line did, as the operator.
	_, log, _ := apiCall(t, "GET", s.URL()+"/api/moderation/log", "", ck.Value, nil)
	acts, _ := log["actions"].([]any)
	byOperator := 0
	for _, a := range acts {
		if a := a.(map[string]any); a["actor"] == "operator" && a["kind"] == "role" {
			byOperator++
		}
	}
	if byOperator != 5 {
		t.Errorf("action log = %v; want 5 role entries by operator", acts)
	}
	// The cookie lets the page's WebSocket in as root.
	c := wstest.Dial(t, wstest.WSURL(s.URL()), http.Header{"Cookie": {"parley_session=" + ck.Value}})
	if w := c.MustOK(map[string]any{"type": "hello", "nickname": "root"}); w.Str("nickname") != "root" || w.Str("role") != "admin" || w["registered"] != true || w.Str("token") != "" {
		t.Errorf("welcome with the cookie = %v; want root, admin, registered, no token", w)
	}
	// The OpenAPI document is served through the whole stack.
	if resp, err := http.Get(s.URL() + "/api/openapi.json"); err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/openapi.json: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// Moderation over HTTP reaches native WebSocket clients: a kicked client
// is told and closed (4001) and may come back; banned by IP through the
// nickname (the address known past the trusted proxy), neither it nor a
// new guest nickname from that address gets in (4002), and others are
// untouched. Metrics keep moving.
func TestAPIKickAndBanByIPOverWebSocket(t *testing.T) {
	s := startServer(t, "--admin-token", "s3cret", "--trusted-proxies", "127.0.0.1, ::1")
	api := s.URL() + "/api"
	from := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	const bad, good = "203.0.113.9", "198.51.100.4"

	alice := wstest.Dial(t, wstest.WSURL(s.URL()), from(good))
	alice.Hello("alice")
	alice.Join("lobby")
	mallory := wstest.Dial(t, wstest.WSURL(s.URL()), from(bad))
	token := mallory.Hello("mallory").Str("token")
	mallory.Join("lobby")
	waitMetric(t, s.URL(), `parley_connections{transport="ws"}`, equals(2))

	if status, body, _ := apiCall(t, "POST", api+"/moderation/kick", "s3cret", "", map[string]any{"nickname": "mallory", "reason": "spam"}); status != http.StatusNoContent {
		t.Fatalf("kick: %d %v", status, body)
	}
	e := mallory.Expect(func(f wstest.Frame) bool { return f.Type() == "error" })
	if e.Str("code") != "kicked" || !strings.Contains(e.Str("message"), "operator") || !strings.Contains(e.Str("message"), "spam") {
		t.Errorf("kick frame = %v", e)
	}
	if !mallory.Closed(wstest.Timeout) || mallory.CloseCode() != 4001 {
		t.Fatalf("kicked connection: closed with %d (%v); want 4001", mallory.CloseCode(), mallory.CloseErr())
	}
	waitMetric(t, s.URL(), `parley_connections{transport="ws"}`, equals(1))

	// They may come back at once.
	mallory = wstest.Dial(t, wstest.WSURL(s.URL()), from(bad))
	mallory.MustOK(map[string]any{"type": "hello", "token": token})

	status, ban, _ := apiCall(t, "POST", api+"/moderation/bans", "s3cret", "", map[string]any{"kind": "ip", "target": "mallory", "reason": "flood", "duration": "1h"})
	if status != http.StatusCreated || ban["value"] != bad || ban["nickname"] != "mallory" {
		t.Fatalf("ban: %d %v; want 201 for %s", status, ban, bad)
	}
	if e := mallory.Expect(func(f wstest.Frame) bool { return f.Type() == "error" }); e.Str("code") != "banned" {
		t.Errorf("ban frame = %v", e)
	}
	if !mallory.Closed(wstest.Timeout) || mallory.CloseCode() != 4002 {
		t.Fatalf("banned connection: closed with %d (%v); want 4002", mallory.CloseCode(), mallory.CloseErr())
	}
	for _, nick := range []string{"mallory", "totally-new-guest"} {
		c := wstest.Dial(t, wstest.WSURL(s.URL()), from(bad))
		if f := c.Request(map[string]any{"type": "hello", "nickname": nick}); f.Type() != "error" || f.Str("code") != "banned" || !strings.Contains(f.Str("message"), "flood") {
			t.Errorf("hello %s from the banned address = %v; want banned", nick, f)
		}
	}
	// Someone else from elsewhere is untouched, and messages still count.
	base := scrape(t, s.URL())
	alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "still here"})
	if status, body, _ := apiCall(t, "POST", api+"/rooms/lobby/messages", "s3cret", "", map[string]any{"text": "from the API"}); status != http.StatusCreated {
		t.Fatalf("post: %d %v", status, body)
	}
	alice.Expect(isMessage("from the API"))
	waitMetric(t, s.URL(), "parley_events_delivered_total", func(v float64) bool { return v >= base["parley_events_delivered_total"]+2 })
	waitMetric(t, s.URL(), "parley_messages_stored_total", func(v float64) bool { return v >= base["parley_messages_stored_total"]+1 })

	// Lifting the ban lets the address back in.
	id := int(ban["id"].(float64))
	if status, _, _ := apiCall(t, "DELETE", api+"/moderation/bans/"+strconv.Itoa(id), "s3cret", "", nil); status != http.StatusNoContent {
		t.Fatalf("unban: %d", status)
	}
	deadline := time.Now().Add(wstest.Timeout)
	for {
		c := wstest.Dial(t, wstest.WSURL(s.URL()), from(bad))
		if f := c.Request(map[string]any{"type": "hello", "nickname": "reformed"}); f.Type() == "welcome" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("hello after the ban was lifted = %v", f)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The new serve flags: --trusted-proxies must parse, --session-ttl must be
// positive; both come from the environment and the config file too.
func TestTrustedProxiesAndSessionTTLFlags(t *testing.T) {
	env := map[string]string{"PARLEY_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1", "PARLEY_SESSION_TTL": "12h"}
	m := NewMain(&bytes.Buffer{}, func(k string) string { return env[k] })
	if err := m.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if m.Config.SessionTTL != 12*time.Hour || len(m.peers.Trusted) != 2 || m.peers.Trusted[1].String() != "192.0.2.1/32" {
		t.Errorf("session ttl %v, trusted %v", m.Config.SessionTTL, m.peers.Trusted)
	}
	for _, args := range [][]string{{"--trusted-proxies", "10.0.0.0/8,proxy.example"}, {"--session-ttl", "0s"}} {
		if err := NewMain(&bytes.Buffer{}, func(string) string { return "" }).ParseFlags(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	file := filepath.Join(t.TempDir(), "parley.toml")
	if err := os.WriteFile(file, []byte("trusted-proxies = [\"127.0.0.1\", \"::1\"]\nsession-ttl = \"1h\"\ndb = \"/tmp/from-file.db\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m = NewMain(&bytes.Buffer{}, func(string) string { return "" })
	if err := m.ParseFlags([]string{"--config", file}); err != nil {
		t.Fatal(err)
	}
	if m.Config.SessionTTL != time.Hour || len(m.peers.Trusted) != 2 {
		t.Errorf("from the file: session ttl %v, trusted %v", m.Config.SessionTTL, m.peers.Trusted)
	}
	// parley user reads the same file, taking only the store from it.
	if out, err := userRun(t, "", nil, "list", "--config", file, "--db", filepath.Join(t.TempDir(), "u.db")); err != nil {
		t.Errorf("parley user list --config: %v: %s", err, out)
	}
}

// parley announce --starts schedules an announcement: admins see it in
// the full list, the public list does not have it yet.
func TestAnnounceCLISchedules(t *testing.T) {
	s := startServer(t, "--admin-token", "s3cret")
	env := map[string]string{"PARLEY_SERVER": s.URL(), "PARLEY_ADMIN_TOKEN": "s3cret"}
	starts := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	var out, errOut bytes.Buffer
	args := []string{"announce", "--starts", starts.Format(time.RFC3339), "--ends", starts.Add(time.Hour).Format(time.RFC3339), "upgrade tonight"}
	if code := run(t.Context(), args, &out, &errOut, func(k string) string { return env[k] }); code != 0 || !strings.Contains(out.String(), "scheduled") {
		t.Fatalf("parley announce --starts: exit %d: %s %s", code, out.String(), errOut.String())
	}
	if code := run(t.Context(), []string{"announce", "--starts", "tonight", "x"}, &out, &errOut, func(k string) string { return env[k] }); code == 0 {
		t.Error("--starts tonight accepted")
	}
	_, all, _ := apiCall(t, "GET", s.URL()+"/api/announcements?all=true", "s3cret", "", nil)
	list, _ := all["announcements"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["starts_at"] != starts.Format(time.RFC3339) {
		t.Errorf("all announcements = %v; want the scheduled one starting %s", all, starts.Format(time.RFC3339))
	}
	_, public, _ := apiCall(t, "GET", s.URL()+"/api/announcements", "", "", nil)
	if list, _ := public["announcements"].([]any); len(list) != 0 {
		t.Errorf("public announcements = %v; want none yet", public)
	}
}
