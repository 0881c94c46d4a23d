package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-chat/parley/internal/wstest"
)

// Moderation made through one node's API acts on people connected to
// another, through the real broker and store: a tombstone, slow mode, a
// mute, a kick and a ban, and an announcement withdrawn.
func TestClusterModerationActsOnEveryNode(t *testing.T) {
	eachBroker(t, func(t *testing.T, e *clusterEnv) {
		e.start(2)
		settle()
		api := e.nodes[0].url + "/api"
		call := func(method, path string, body any) (int, map[string]any) {
			t.Helper()
			status, out, _ := apiCall(t, method, api+path, "s3cret", "", body)
			return status, out
		}
		watcher, _ := e.client(0, "watcher")
		watcher.Join("lobby")
		troll, trollToken := e.client(1, "troll")
		troll.Join("lobby")
		watcher.Expect(func(f wstest.Frame) bool { return f.Type() == "joined" && f.Str("nickname") == "troll" })

		// A tombstone reaches node 2's people and its history.
		seq := troll.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "spam spam"}).Msg().Num("seq")
		watcher.Expect(isMessage("spam spam"))
		if status, out := call("DELETE", "/rooms/lobby/messages/"+strconv.Itoa(int(seq)), nil); status != http.StatusOK {
			t.Fatalf("delete: %d %v", status, out)
		}
		for _, c := range []*wstest.Client{watcher, troll} {
			f := c.Expect(func(f wstest.Frame) bool { return f.Type() == "message.deleted" })
			if m := f.Msg(); m.Num("seq") != seq || m.Str("text") != "" || m["deleted"] != true || m.Str("deleted_by") != "operator" {
				t.Errorf("tombstone = %v", m)
			}
		}
		page := troll.MustOK(map[string]any{"type": "history", "room": "lobby", "after": seq - 1})
		if msgs := page["messages"].([]any); len(msgs) == 0 || msgs[0].(map[string]any)["deleted"] != true {
			t.Errorf("history on node 2 after the delete = %v", msgs)
		}

		// Slow mode set on node 1 holds on node 2.
		if status, out := call("PUT", "/rooms/lobby/slow-mode", map[string]any{"seconds": 30}); status != http.StatusOK {
			t.Fatalf("slow mode: %d %v", status, out)
		}
		if f := troll.Expect(func(f wstest.Frame) bool { return f.Type() == "room.settings" }); f.Num("slow_mode_ms") != 30000 {
			t.Errorf("room.settings = %v", f)
		}
		troll.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "one"})
		if f := troll.Request(map[string]any{"type": "send", "room": "lobby", "text": "two"}); f.Str("code") != "rate_limited" || !strings.Contains(f.Str("message"), "slow mode") || f.Num("retry_after_ms") <= 0 {
			t.Errorf("second send in slow mode = %v", f)
		}
		call("PUT", "/rooms/lobby/slow-mode", map[string]any{"seconds": 0})
		troll.Expect(func(f wstest.Frame) bool { return f.Type() == "room.settings" && f.Num("slow_mode_ms") == 0 })

		// A mute made on node 1.
		if status, out := call("POST", "/rooms/lobby/mutes", map[string]any{"nickname": "troll", "duration": "10m", "reason": "calm down"}); status != http.StatusCreated {
			t.Fatalf("mute: %d %v", status, out)
		}
		troll.Expect(func(f wstest.Frame) bool { return f.Type() == "muted" && f.Str("room") == "lobby" })
		if f := troll.Request(map[string]any{"type": "send", "room": "lobby", "text": "muted?"}); f.Str("code") != "muted" {
			t.Errorf("send while muted = %v", f)
		}

		// An announcement withdrawn on node 1 disappears on node 2.
		_, ann := call("POST", "/announcements", map[string]any{"text": "soon gone"})
		troll.Expect(func(f wstest.Frame) bool { return f.Type() == "announcement" })
		call("DELETE", "/announcements/"+strconv.Itoa(int(ann["id"].(float64))), nil)
		troll.Expect(func(f wstest.Frame) bool { return f.Type() == "announcement.deleted" })

		// A kick and a nickname ban close the troll's connection on node 2,
		// and node 2 refuses the nickname afterwards.
		if status, out := call("POST", "/moderation/kick", map[string]any{"nickname": "troll"}); status != http.StatusNoContent {
			t.Fatalf("kick: %d %v", status, out)
		}
		if !troll.Closed(wstest.Timeout) || troll.CloseCode() != 4001 {
			t.Fatalf("kicked on node 2: closed %d (%v); want 4001", troll.CloseCode(), troll.CloseErr())
		}
		troll = wstest.Dial(t, wstest.WSURL(e.nodes[1].url), nil)
		troll.MustOK(map[string]any{"type": "hello", "token": trollToken})
		if status, out := call("POST", "/moderation/bans", map[string]any{"kind": "nickname", "target": "troll", "reason": "enough"}); status != http.StatusCreated {
			t.Fatalf("ban: %d %v", status, out)
		}
		if !troll.Closed(wstest.Timeout) || troll.CloseCode() != 4002 {
			t.Fatalf("banned on node 2: closed %d (%v); want 4002", troll.CloseCode(), troll.CloseErr())
		}
		again := wstest.Dial(t, wstest.WSURL(e.nodes[1].url), nil)
		if f := again.Request(map[string]any{"type": "hello", "token": trollToken}); f.Str("code") != "banned" || !strings.Contains(f.Str("message"), "enough") {
			t.Errorf("hello on node 2 after the ban = %v", f)
		}
		// The log, read on node 2, has it all.
		_, log, _ := apiCall(t, "GET", e.nodes[1].url+"/api/moderation/log", "s3cret", "", nil)
		kinds := map[string]bool{}
		for _, a := range log["actions"].([]any) {
			kinds[a.(map[string]any)["kind"].(string)] = true
		}
		for _, k := range []string{"delete", "slow_mode", "mute", "announce", "announcement_delete", "kick", "ban"} {
			if !kinds[k] {
				t.Errorf("the action log has no %q: %v", k, log["actions"])
			}
		}
	})
}
