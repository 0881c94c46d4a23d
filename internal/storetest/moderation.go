package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

func banString(b parley.Ban) string {
	exp := "never"
	if !b.ExpiresAt.IsZero() {
		exp = b.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s:%s(%s,%s,%s,%s,%s)", b.Kind, b.Value, b.Nickname, b.Reason, b.By, b.CreatedAt.UTC().Format(time.RFC3339), exp)
}

func bansString(bs []parley.Ban) string {
	out := ""
	for _, b := range bs {
		out += banString(b) + " "
	}
	return out
}

func testBans(t *testing.T, s parley.Store) {
	if bans, err := s.Bans(ctx, T0); err != nil || bans == nil || len(bans) != 0 {
		t.Errorf("Bans of a new store = %#v, %v; want an empty slice", bans, err)
	}
	hour := T0.Add(time.Hour)
	var added []parley.Ban
	for _, b := range []parley.Ban{
		{Kind: parley.BanAccount, Value: "bob", Nickname: "Bob", Reason: "spam", By: "mod", CreatedAt: T0},
		{Kind: parley.BanNickname, Value: "eve", Nickname: "Eve", By: "mod", CreatedAt: T0, ExpiresAt: hour},
		{Kind: parley.BanIP, Value: "2001:db8::/48", Reason: "a bot farm", By: "admin", CreatedAt: T0},
		{Kind: parley.BanIP, Value: "192.0.2.7", Nickname: "mallory", By: "key:ci-bot", CreatedAt: T0, ExpiresAt: hour},
	} {
		got, err := s.AddBan(ctx, b)
		if err != nil {
			t.Fatalf("AddBan(%s): %v", banString(b), err)
		}
		if got.ID == 0 || (len(added) > 0 && got.ID <= added[len(added)-1].ID) || banString(got) != banString(b) {
			t.Errorf("AddBan(%s) = %d %s; want a new, larger ID and the ban as given", banString(b), got.ID, banString(got))
		}
		added = append(added, got)
	}
	all := bansString(added)
	if got, err := s.Bans(ctx, T0); err != nil || bansString(got) != all || got[0].ID != added[0].ID {
		t.Errorf("Bans(T0) = %s, %v; want %s", bansString(got), err, all)
	}
	// At ExpiresAt a ban is over.
	if got, _ := s.Bans(ctx, hour); bansString(got) != bansString([]parley.Ban{added[0], added[2]}) {
		t.Errorf("Bans at the expiry of two = %s; want the two without expiry", bansString(got))
	}
	if got, err := s.DeleteBan(ctx, added[0].ID); err != nil || got.ID != added[0].ID || banString(got) != banString(added[0]) {
		t.Errorf("DeleteBan = %s, %v; want %s", banString(got), err, banString(added[0]))
	}
	_, err := s.DeleteBan(ctx, added[0].ID)
	wantCode(t, "DeleteBan of a lifted ban", err, parley.ENotFound)
	_, err = s.DeleteBan(ctx, added[3].ID+100)
	wantCode(t, "DeleteBan(unknown)", err, parley.ENotFound)
	if got, _ := s.Bans(ctx, T0); bansString(got) != bansString(added[1:]) {
		t.Errorf("Bans after a lift = %s; want %s", bansString(got), bansString(added[1:]))
	}
}

func mutesString(ms []parley.Mute) string {
	out := ""
	for _, m := range ms {
		exp := "never"
		if !m.ExpiresAt.IsZero() {
			exp = m.ExpiresAt.UTC().Format(time.RFC3339)
		}
		out += fmt.Sprintf("%s/%s(%s,%s,%s,%s) ", m.Room, m.Nickname, m.Reason, m.By, m.CreatedAt.UTC().Format(time.RFC3339), exp)
	}
	return out
}

func testMutes(t *testing.T, s parley.Store) {
	if ms, err := s.Mutes(ctx, T0); err != nil || ms == nil || len(ms) != 0 {
		t.Errorf("Mutes of a new store = %#v, %v; want an empty slice", ms, err)
	}
	ten, hour := T0.Add(10*time.Minute), T0.Add(time.Hour)
	for _, m := range []parley.Mute{
		{Room: "lobby", Nickname: "Bob", Reason: "first", By: "mod", CreatedAt: T0, ExpiresAt: hour},
		{Room: "attic", Nickname: "bob", By: "mod", CreatedAt: T0, ExpiresAt: ten},
		{Room: "lobby", Nickname: "al", By: "admin", CreatedAt: T0},
		// The same person in the same room: replaces the first.
		{Room: "lobby", Nickname: "BOB", Reason: "again", By: "admin", CreatedAt: ten},
	} {
		got, err := s.AddMute(ctx, m)
		if err != nil || mutesString([]parley.Mute{got}) != mutesString([]parley.Mute{m}) {
			t.Fatalf("AddMute(%s) = %s, %v; want it as given", mutesString([]parley.Mute{m}), mutesString([]parley.Mute{got}), err)
		}
	}
	want := "attic/bob(,mod,2026-11-22T10:00:00Z,2026-11-22T10:10:00Z) lobby/al(,admin,2026-11-22T10:00:00Z,never) lobby/BOB(again,admin,2026-11-22T10:10:00Z,never) "
	if got, err := s.Mutes(ctx, T0); err != nil || mutesString(got) != want {
		t.Errorf("Mutes(T0) =\n %s, %v; want\n %s", mutesString(got), err, want)
	}
	want = "lobby/al(,admin,2026-11-22T10:00:00Z,never) lobby/BOB(again,admin,2026-11-22T10:10:00Z,never) "
	if got, _ := s.Mutes(ctx, ten); mutesString(got) != want {
		t.Errorf("Mutes at the expiry of one =\n %s; want\n %s", mutesString(got), want)
	}
	if err := s.DeleteMute(ctx, "lobby", "bob"); err != nil {
		t.Errorf("DeleteMute(lobby, bob): %v", err)
	}
	wantCode(t, "DeleteMute(lobby, bob) again", s.DeleteMute(ctx, "lobby", "Bob"), parley.ENotFound)
	wantCode(t, "DeleteMute of nobody muted", s.DeleteMute(ctx, "garden", "al"), parley.ENotFound)
	want = "attic/bob(,mod,2026-11-22T10:00:00Z,2026-11-22T10:10:00Z) lobby/al(,admin,2026-11-22T10:00:00Z,never) "
	if got, _ := s.Mutes(ctx, T0); mutesString(got) != want {
		t.Errorf("Mutes after DeleteMute =\n %s; want\n %s", mutesString(got), want)
	}
}

func testSlowMode(t *testing.T, s parley.Store) {
	_, err := s.SetSlowMode(ctx, "nowhere", time.Second)
	wantCode(t, "SetSlowMode of an unknown room", err, parley.ENotFound)
	if r, err := s.EnsureRoom(ctx, "nowhere"); err != nil || r.SlowMode != 0 {
		t.Errorf("a new room = %+v, %v; want no slow mode", r, err)
	}
	MustAppend(t, s, parley.Message{Room: "garden", Text: "1"})
	r, err := s.SetSlowMode(ctx, "garden", 10*time.Second)
	if err != nil || r.Name != "garden" || r.SlowMode != 10*time.Second || r.LastSeq != 1 {
		t.Errorf("SetSlowMode(garden, 10s) = %+v, %v; want garden, 10s, seq 1", r, err)
	}
	MustAppend(t, s, parley.Message{Room: "garden", Text: "2"}) // a new message keeps the setting
	if r, err := s.EnsureRoom(ctx, "garden"); err != nil || r.SlowMode != 10*time.Second || r.LastSeq != 2 {
		t.Errorf("EnsureRoom(garden) = %+v, %v; want slow mode 10s, seq 2", r, err)
	}
	rooms, err := s.Rooms(ctx)
	got := ""
	for _, r := range rooms {
		got += fmt.Sprint(r.Name, "=", r.SlowMode, " ")
	}
	if err != nil || got != "garden=10s lobby=0s nowhere=0s " {
		t.Errorf("Rooms = %s, %v; want garden=10s lobby=0s nowhere=0s", got, err)
	}
	if r, err := s.SetSlowMode(ctx, "garden", 0); err != nil || r.SlowMode != 0 {
		t.Errorf("SetSlowMode(garden, 0) = %+v, %v; want off", r, err)
	}
	if r, _ := s.EnsureRoom(ctx, "garden"); r.SlowMode != 0 {
		t.Errorf("EnsureRoom after slow mode off: %v; want 0", r.SlowMode)
	}
}

func testDeleteMessage(t *testing.T, s parley.Store) {
	m1 := MustAppend(t, s, parley.Message{Room: "lobby", From: "Bob", Text: "rude @alice", Mentions: []string{"alice"}, ClientID: "c1"})
	m2 := MustAppend(t, s, parley.Message{Room: "lobby", From: "carol", Text: "fine"})
	if m1.Deleted || m1.DeletedBy != "" {
		t.Errorf("a new message = %+v; want not deleted", m1)
	}
	tomb, err := s.DeleteMessage(ctx, "lobby", m1.Seq, "mod")
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, m parley.Message) {
		t.Helper()
		if m.ID != m1.ID || m.Room != "lobby" || m.Seq != m1.Seq || m.From != "Bob" || !m.CreatedAt.Equal(m1.CreatedAt) ||
			m.ClientID != "c1" || m.Text != "" || m.HTML != "" || len(m.Mentions) != 0 || !m.Deleted || m.DeletedBy != "mod" {
			t.Errorf("%s = %+v; want the tombstone of message %d (ID, Room, Seq, From, CreatedAt, ClientID kept; Text, HTML, Mentions empty), deleted by mod", what, m, m1.ID)
		}
	}
	check("DeleteMessage", tomb)
	again, err := s.DeleteMessage(ctx, "lobby", m1.Seq, "admin")
	if err != nil {
		t.Errorf("DeleteMessage of a tombstone: %v", err)
	}
	check("DeleteMessage of a tombstone", again)

	h := MustHistory(t, s, "lobby", 0, 10)
	if len(h) != 2 || h[1].Text != "fine" || h[1].Deleted || h[1].ID != m2.ID {
		t.Fatalf("History = %+v; want the tombstone, then m2", h)
	}
	check("History", h[0])
	a, err := s.After(ctx, "lobby", 0, 10)
	if err != nil || len(a) != 2 {
		t.Fatalf("After = %+v, %v; want 2 messages", a, err)
	}
	check("After", a[0])

	// Its client_id still names it.
	dup, isDup, err := s.Append(ctx, parley.Message{Room: "lobby", From: "bob", Text: "rude again", HTML: "x", ClientID: "c1", CreatedAt: T0})
	if err != nil || !isDup {
		t.Errorf("Append with a tombstone's client_id = %+v, dup %v, %v; want dup", dup, isDup, err)
	}
	check("Append with a tombstone's client_id", dup)

	_, err = s.DeleteMessage(ctx, "lobby", m2.Seq+1, "mod")
	wantCode(t, "DeleteMessage of an unknown seq", err, parley.ENotFound)
	_, err = s.DeleteMessage(ctx, "nowhere", 1, "mod")
	wantCode(t, "DeleteMessage in an unknown room", err, parley.ENotFound)

	// Direct messages too.
	key := parley.DMKey("alice", "bob")
	dm := MustAppend(t, s, parley.Message{Room: key, From: "alice", To: "bob", Text: "psst"})
	if _, err := s.DeleteMessage(ctx, key, dm.Seq, "admin"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.DirectSince(ctx, "bob", 0, 10); err != nil || len(got) != 1 || !got[0].Deleted || got[0].Text != "" || got[0].DeletedBy != "admin" {
		t.Errorf("DirectSince after deleting the DM = %+v, %v; want its tombstone", got, err)
	}
}

func testActions(t *testing.T, s parley.Store) {
	if got, err := s.Actions(ctx, 0, 10); err != nil || got == nil || len(got) != 0 {
		t.Errorf("Actions of a new store = %#v, %v; want an empty slice", got, err)
	}
	var ids []int64
	for i, kind := range []parley.ActionKind{parley.ActKick, parley.ActBan, parley.ActMute, parley.ActDelete, parley.ActRole} {
		a := parley.Action{At: T0.Add(time.Duration(i) * time.Minute), Actor: "mod", Kind: kind, Target: fmt.Sprint("t", i), Room: "lobby", Detail: fmt.Sprint("d", i)}
		got, err := s.LogAction(ctx, a)
		if err != nil || got.ID == 0 || (len(ids) > 0 && got.ID <= ids[len(ids)-1]) {
			t.Fatalf("LogAction(%d) = %+v, %v; want a new, larger ID", i, got, err)
		}
		ids = append(ids, got.ID)
	}
	page := func(before int64, limit int) string {
		got, err := s.Actions(ctx, before, limit)
		if err != nil {
			t.Fatalf("Actions(%d, %d): %v", before, limit, err)
		}
		out := ""
		for _, a := range got {
			out += fmt.Sprintf("%s:%s:%s:%s:%s:%s ", a.Kind, a.Actor, a.Target, a.Room, a.Detail, a.At.UTC().Format("15:04"))
		}
		return out
	}
	for _, tc := range []struct {
		before int64
		limit  int
		want   string
	}{
		{0, 2, "role:mod:t4:lobby:d4:10:04 delete:mod:t3:lobby:d3:10:03 "},
		{ids[3], 2, "mute:mod:t2:lobby:d2:10:02 ban:mod:t1:lobby:d1:10:01 "},
		{ids[1], 10, "kick:mod:t0:lobby:d0:10:00 "},
		{ids[0], 10, ""},
	} {
		if got := page(tc.before, tc.limit); got != tc.want {
			t.Errorf("Actions(%d, %d) = %q; want %q", tc.before, tc.limit, got, tc.want)
		}
	}
}
