package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// Bans, mutes, slow mode, deleting a message: each round trip, and the
// action log that records them under the moderator's name.
func TestModerationRoundTrips(t *testing.T) {
	e := newEnv(t)
	mod := bearer(e.user("moritz", "moderator"))
	admin := bearer(adminToken)
	e.user("ada", "admin")
	e.register("bob")

	// Bans.
	b := e.do(mod, "POST", "/api/moderation/bans", map[string]any{"kind": "nickname", "target": "spammer", "reason": "spam", "duration": "24h"}).must(t, http.StatusCreated)
	if b.str("kind") != "nickname" || b.str("nickname") == "" || b.str("by") != "moritz" || b.str("reason") != "spam" {
		t.Errorf("ban = %v", b.Body)
	}
	if exp, err := time.Parse(time.RFC3339, b.str("expires_at")); err != nil || time.Until(exp) < 23*time.Hour {
		t.Errorf("ban expires_at = %q; want 24 h from now", b.str("expires_at"))
	}
	ip := e.do(mod, "POST", "/api/moderation/bans", map[string]any{"kind": "ip", "target": "203.0.113.0/24"}).must(t, http.StatusCreated)
	if ip.Body["expires_at"] != nil {
		t.Errorf("a ban with no duration has expires_at %v", ip.Body["expires_at"])
	}
	for _, tc := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"kind": "planet", "target": "x"}, "invalid"},
		{map[string]any{"kind": "nickname", "target": "x", "duration": "a while"}, "invalid"},
		{map[string]any{"kind": "account", "target": "ada"}, "forbidden"},    // moderators cannot ban admins
		{map[string]any{"kind": "account", "target": "moritz"}, "forbidden"}, // nor themselves
		{map[string]any{"kind": "ip", "target": "nobody-known"}, "not_found"},
	} {
		if r := e.do(mod, "POST", "/api/moderation/bans", tc.body); r.code() != tc.code {
			t.Errorf("ban %v = %d %s; want %s", tc.body, r.Status, r.Raw, tc.code)
		}
	}
	list := e.do(mod, "GET", "/api/moderation/bans", nil).must(t, http.StatusOK).list("bans")
	if len(list) != 2 {
		t.Fatalf("bans = %v; want 2", list)
	}
	for _, bn := range list {
		if bn["kind"] == "ip" && bn["value"] != "" {
			t.Errorf("a moderator sees the address of an ip ban: %v", bn)
		}
	}
	for _, bn := range e.do(admin, "GET", "/api/moderation/bans", nil).must(t, http.StatusOK).list("bans") {
		if bn["kind"] == "ip" && bn["value"] != "203.0.113.0/24" {
			t.Errorf("an admin sees ip ban value %v; want the prefix", bn["value"])
		}
	}
	e.do(mod, "DELETE", fmt.Sprintf("/api/moderation/bans/%d", int(b.Body["id"].(float64))), nil).must(t, http.StatusNoContent)
	if r := e.do(mod, "DELETE", fmt.Sprintf("/api/moderation/bans/%d", int(b.Body["id"].(float64))), nil); r.Status != http.StatusNotFound {
		t.Errorf("lifting a lifted ban = %d; want 404", r.Status)
	}
	if r := e.do(mod, "DELETE", "/api/moderation/bans/abc", nil); r.Status != http.StatusBadRequest {
		t.Errorf("ban id abc = %d; want 400", r.Status)
	}
	if l := e.do(mod, "GET", "/api/moderation/bans", nil).must(t, http.StatusOK).list("bans"); len(l) != 1 {
		t.Errorf("bans after lifting one = %v", l)
	}

	// Mutes.
	m := e.do(mod, "POST", "/api/rooms/lobby/mutes", map[string]any{"nickname": "bob", "duration": "10m", "reason": "calm down"}).must(t, http.StatusCreated)
	if m.str("room") != "lobby" || m.str("nickname") != "bob" || m.str("by") != "moritz" || m.Body["expires_at"] == nil {
		t.Errorf("mute = %v", m.Body)
	}
	if l := e.do(mod, "GET", "/api/rooms/lobby/mutes", nil).must(t, http.StatusOK).list("mutes"); len(l) != 1 || l[0]["nickname"] != "bob" {
		t.Errorf("mutes = %v", l)
	}
	e.do(mod, "DELETE", "/api/rooms/lobby/mutes/bob", nil).must(t, http.StatusNoContent)
	if l := e.do(mod, "GET", "/api/rooms/lobby/mutes", nil).must(t, http.StatusOK).list("mutes"); len(l) != 0 {
		t.Errorf("mutes after unmute = %v", l)
	}

	// Slow mode.
	e.do(admin, "POST", "/api/rooms/lobby/messages", map[string]any{"text": "hello"}).must(t, http.StatusCreated)
	room := e.do(mod, "PUT", "/api/rooms/lobby/slow-mode", map[string]any{"seconds": 10}).must(t, http.StatusOK)
	if room.str("name") != "lobby" || room.Body["slow_mode_s"] != 10.0 {
		t.Errorf("slow mode = %v", room.Body)
	}
	for _, s := range []int{-1, 3601} {
		if r := e.do(mod, "PUT", "/api/rooms/lobby/slow-mode", map[string]any{"seconds": s}); r.Status != http.StatusBadRequest {
			t.Errorf("slow mode %d = %d; want 400", s, r.Status)
		}
	}
	e.do(mod, "PUT", "/api/rooms/lobby/slow-mode", map[string]any{"seconds": 0}).must(t, http.StatusOK)

	// Deleting a message leaves a tombstone in history.
	del := e.do(mod, "DELETE", "/api/rooms/lobby/messages/1", nil).must(t, http.StatusOK)
	if tomb := del.Body["message"].(map[string]any); tomb["deleted"] != true || tomb["deleted_by"] != "moritz" || tomb["text"] != "" || tomb["seq"] != 1.0 {
		t.Errorf("tombstone = %v", tomb)
	}
	if h := e.do(mod, "GET", "/api/rooms/lobby/messages", nil).must(t, http.StatusOK).list("messages"); len(h) != 1 || h[0]["deleted"] != true {
		t.Errorf("history after delete = %v", h)
	}
	if r := e.do(mod, "DELETE", "/api/rooms/lobby/messages/99", nil); r.Status != http.StatusNotFound {
		t.Errorf("deleting message 99 = %d; want 404", r.Status)
	}

	// Kick someone offline: nothing to end, still fine or not found.
	if r := e.do(mod, "POST", "/api/moderation/kick", map[string]any{"nickname": "bob", "reason": "bye"}); r.Status != http.StatusNoContent && r.Status != http.StatusNotFound {
		t.Errorf("kick = %d %s", r.Status, r.Raw)
	}

	// The log, newest first, paged.
	log := e.do(mod, "GET", "/api/moderation/log", nil).must(t, http.StatusOK).list("actions")
	var kinds []string
	for _, a := range log {
		if a["actor"] == "moritz" {
			kinds = append(kinds, a["kind"].(string))
		}
	}
	for _, want := range []string{"ban", "unban", "mute", "unmute", "slow_mode", "delete"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("log kinds by moritz = %v; want %s among them", kinds, want)
		}
	}
	if len(log) < 2 || log[0]["id"].(float64) <= log[1]["id"].(float64) {
		t.Fatalf("log not newest first: %v", log)
	}
	page := e.do(mod, "GET", fmt.Sprintf("/api/moderation/log?limit=1&before=%d", int(log[0]["id"].(float64))), nil).must(t, http.StatusOK).list("actions")
	if len(page) != 1 || page[0]["id"] != log[1]["id"] {
		t.Errorf("log page before %v = %v; want %v", log[0]["id"], page, log[1]["id"])
	}
}

// Roles: admins set them, the target must be registered, an admin cannot
// demote themselves.
func TestRoles(t *testing.T) {
	e := newEnv(t)
	adaTok := e.user("ada", "admin")
	e.register("bob")
	r := e.do(bearer(adaTok), "PUT", "/api/users/bob/role", map[string]any{"role": "moderator"}).must(t, http.StatusOK)
	if r.str("nickname") != "bob" || r.str("role") != "moderator" || r.Body["registered"] != true {
		t.Errorf("role = %v", r.Body)
	}
	if me := e.do(cookie(e.login("bob")), "GET", "/api/auth/me", nil).must(t, http.StatusOK); me.str("role") != "moderator" {
		t.Errorf("bob's me = %v", me.Body)
	}
	for _, tc := range []struct {
		nick, role string
		status     int
	}{
		{"ada", "", http.StatusForbidden},
		{"bob", "god", http.StatusBadRequest},
		{"nobody", "moderator", http.StatusNotFound},
	} {
		if r := e.do(bearer(adaTok), "PUT", "/api/users/"+tc.nick+"/role", map[string]any{"role": tc.role}); r.Status != tc.status {
			t.Errorf("role of %s to %q = %d %s; want %d", tc.nick, tc.role, r.Status, r.Raw, tc.status)
		}
	}
	e.do(bearer(adaTok), "PUT", "/api/users/bob/role", map[string]any{"role": ""}).must(t, http.StatusOK)
	if r := e.do(bearer(e.login("bob")), "GET", "/api/moderation/bans", nil); r.Status != http.StatusForbidden {
		t.Errorf("bob after losing the role = %d; want 403", r.Status)
	}
}

// Announcements: schedule one, the public list shows only active ones,
// admins see the scheduled too, and withdraw it.
func TestAnnouncementsScheduleListDelete(t *testing.T) {
	e := newEnv(t)
	admin := bearer(adminToken)
	mod := bearer(e.user("moritz", "moderator"))
	now := e.do(admin, "POST", "/api/announcements", map[string]any{"text": "now **on**", "ttl": "1h"}).must(t, http.StatusCreated)
	if now.str("html") != "<p>now <strong>on</strong></p>" || now.str("by") != "operator" {
		t.Errorf("announcement = %v", now.Body)
	}
	start := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	later := e.do(admin, "POST", "/api/announcements", map[string]any{
		"text": "maintenance", "starts_at": start.Format(time.RFC3339), "ends_at": start.Add(time.Hour).Format(time.RFC3339),
	}).must(t, http.StatusCreated)
	if got, _ := time.Parse(time.RFC3339, later.str("starts_at")); !got.Equal(start) {
		t.Errorf("starts_at = %s; want %s", later.str("starts_at"), start)
	}
	if got, _ := time.Parse(time.RFC3339, later.str("expires_at")); !got.Equal(start.Add(time.Hour)) {
		t.Errorf("expires_at = %s; want %s", later.str("expires_at"), start.Add(time.Hour))
	}
	for _, bad := range []map[string]any{
		{"text": "x", "starts_at": "tomorrow"},
		{"text": "x", "ttl": "-1h"},
		{"text": "x", "starts_at": start.Format(time.RFC3339), "ends_at": start.Add(-time.Hour).Format(time.RFC3339)},
	} {
		if r := e.do(admin, "POST", "/api/announcements", bad); r.Status != http.StatusBadRequest {
			t.Errorf("announce %v = %d %s; want 400", bad, r.Status, r.Raw)
		}
	}
	ids := func(r res) []float64 {
		var out []float64
		for _, a := range r.list("announcements") {
			out = append(out, a["id"].(float64))
		}
		return out
	}
	nowID, laterID := now.Body["id"].(float64), later.Body["id"].(float64)
	if got := ids(e.do(anon, "GET", "/api/announcements", nil).must(t, http.StatusOK)); !slices.Equal(got, []float64{nowID}) {
		t.Errorf("public list = %v; want [%v]", got, nowID)
	}
	if got := ids(e.do(admin, "GET", "/api/announcements?all=true", nil).must(t, http.StatusOK)); !slices.Equal(got, []float64{nowID, laterID}) {
		t.Errorf("all = %v; want [%v %v]", got, nowID, laterID)
	}
	if r := e.do(anon, "GET", "/api/announcements?all=true", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("all without a credential = %d; want 401", r.Status)
	}
	if r := e.do(mod, "GET", "/api/announcements?all=true", nil); r.Status != http.StatusForbidden {
		t.Errorf("all as a moderator = %d; want 403", r.Status)
	}
	if r := e.do(mod, "DELETE", fmt.Sprintf("/api/announcements/%d", int(laterID)), nil); r.Status != http.StatusForbidden {
		t.Errorf("delete as a moderator = %d; want 403", r.Status)
	}
	e.do(admin, "DELETE", fmt.Sprintf("/api/announcements/%d", int(laterID)), nil).must(t, http.StatusNoContent)
	if r := e.do(admin, "DELETE", fmt.Sprintf("/api/announcements/%d", int(laterID)), nil); r.Status != http.StatusNotFound {
		t.Errorf("delete again = %d; want 404", r.Status)
	}
	if got := ids(e.do(admin, "GET", "/api/announcements?all=true", nil).must(t, http.StatusOK)); !slices.Equal(got, []float64{nowID}) {
		t.Errorf("all after delete = %v; want [%v]", got, nowID)
	}
}
