package node_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/node"
)

var mod = actor("mod", parley.RoleModerator)

// Each kind of ban ends the sessions it matches and refuses hello (and
// login) until it expires or is lifted.
func TestBansRefuseHello(t *testing.T) {
	clock := newClock()
	e := newEnv(t, node.Config{Now: clock.Now})

	// Nickname: nobody may use it.
	troll := guest(t, e.n, "troll", "")
	b, err := e.n.Ban(ctx, mod, node.BanRequest{Kind: parley.BanNickname, Target: "Troll", Reason: "spam"})
	if err != nil {
		t.Fatal(err)
	}
	why, frame := troll.awaitClosed()
	if parley.ErrorCode(why) != parley.EBanned || frame.Code != parley.EBanned || frame.Message != "you are banned until further notice: spam" {
		t.Errorf("the troll's session: closed %v after %+v; want banned until further notice: spam", why, frame)
	}
	_, f := hello(t, e.n, node.Peer{}, parley.Command{Nickname: "TROLL"})
	wantCode(t, "hello as a banned nickname", errOf(f), parley.EBanned)
	if _, err := e.n.Unban(ctx, mod, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, f := hello(t, e.n, node.Peer{}, parley.Command{Nickname: "troll2"}); f.T != "reply" {
		t.Errorf("another nickname: %+v", f)
	}

	// IP by nickname: the person's last address, for an hour. A moderator
	// and a registered user share it (an office, a campus).
	colleague := e.register("colleague", parley.RoleModerator)
	colleagueConn, _ := hello(t, e.n, node.Peer{IP: netip.MustParseAddr("192.0.2.7")}, parley.Command{Token: colleague.Token})
	plain := e.register("plain", parley.RoleUser)
	carol := guest(t, e.n, "carol", "192.0.2.7")
	bystander := guest(t, e.n, "dan", "192.0.2.8")
	b, err = e.n.Ban(ctx, mod, node.BanRequest{Kind: parley.BanIP, Target: "carol", For: time.Hour, Reason: "flood"})
	if err != nil || b.Value != "192.0.2.7" || b.Nickname != "carol" {
		t.Fatalf("ban carol's address: %+v, %v", b, err)
	}
	why, frame = carol.awaitClosed()
	wantExpiry := clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if parley.ErrorCode(why) != parley.EBanned || frame.Message != "you are banned until "+wantExpiry+": flood" {
		t.Errorf("carol: closed %v after %+v; want banned until %s", why, frame, wantExpiry)
	}
	_, f = hello(t, e.n, node.Peer{IP: netip.MustParseAddr("192.0.2.7")}, parley.Command{Nickname: "newface"})
	wantCode(t, "a new guest nickname from the banned address", errOf(f), parley.EBanned)
	_, f = hello(t, e.n, node.Peer{IP: netip.MustParseAddr("::ffff:192.0.2.7")}, parley.Command{Nickname: "newface"})
	wantCode(t, "the banned address, IPv4-mapped", errOf(f), parley.EBanned)
	if bystander.closedWith() != nil {
		t.Errorf("a session from another address was closed: %v", bystander.closedWith())
	}
	// Moderators and admins on the address stay, and may come back; other
	// people, registered or not, may not.
	if colleagueConn.closedWith() != nil {
		t.Errorf("a moderator on the banned address was closed: %v", colleagueConn.closedWith())
	}
	if _, f := hello(t, e.n, node.Peer{IP: netip.MustParseAddr("192.0.2.7")}, parley.Command{Token: colleague.Token}); f.T != "reply" {
		t.Errorf("a moderator's hello from the banned address: %+v", f)
	}
	_, f = hello(t, e.n, node.Peer{IP: netip.MustParseAddr("192.0.2.7")}, parley.Command{Token: plain.Token})
	wantCode(t, "a registered user's hello from the banned address", errOf(f), parley.EBanned)
	// The ban expires without anyone lifting it.
	clock.advance(time.Hour + time.Second)
	if _, f := hello(t, e.n, node.Peer{IP: netip.MustParseAddr("192.0.2.7")}, parley.Command{Nickname: "newface"}); f.T != "reply" {
		t.Errorf("hello from the address after the ban expired: %+v", f)
	}
	// A prefix; an unknown nickname; too wide a prefix.
	if _, err := e.n.Ban(ctx, mod, node.BanRequest{Kind: parley.BanIP, Target: "198.51.100.0/24"}); err != nil {
		t.Fatal(err)
	}
	_, f = hello(t, e.n, node.Peer{IP: netip.MustParseAddr("198.51.100.200")}, parley.Command{Nickname: "neighbour"})
	wantCode(t, "hello from a banned prefix", errOf(f), parley.EBanned)
	_, err = e.n.Ban(ctx, mod, node.BanRequest{Kind: parley.BanIP, Target: "nobody-at-all"})
	wantCode(t, "ip ban of an unknown nickname", err, parley.ENotFound)
	_, err = e.n.Ban(ctx, mod, node.BanRequest{Kind: parley.BanIP, Target: "0.0.0.0/0"})
	wantCode(t, "ip ban of the whole internet", err, parley.EInvalid)

	// Account: its sessions, its login, and its cookie under a guest name.
	erin := e.register("erin", parley.RoleUser)
	erinConn, _ := hello(t, e.n, node.Peer{}, parley.Command{Token: erin.Token})
	_, f = hello(t, e.n, node.Peer{}, parley.Command{Nickname: "erinsAlt"})
	altToken := f.Reply.Token
	incognito, f := hello(t, e.n, node.Peer{Token: erin.Token}, parley.Command{Nickname: "notErin"})
	if f.T != "reply" {
		t.Fatalf("erin's cookie as a guest before the ban: %+v", f)
	}
	b, err = e.n.Ban(ctx, mod, node.BanRequest{Kind: parley.BanAccount, Target: "erin", Reason: "abuse"})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*conn{"erin": erinConn, "erin's cookie as notErin": incognito} {
		if why, _ := c.awaitClosed(); parley.ErrorCode(why) != parley.EBanned {
			t.Errorf("%s: closed %v; want banned", name, why)
		}
	}
	_, f = hello(t, e.n, node.Peer{Token: erin.Token}, parley.Command{Nickname: "someoneElse"})
	wantCode(t, "the banned account's cookie under a guest nickname", errOf(f), parley.EBanned)
	_, f = hello(t, e.n, node.Peer{}, parley.Command{Token: erin.Token})
	wantCode(t, "the banned account's login token", errOf(f), parley.EBanned)
	_, f = hello(t, e.n, node.Peer{Token: erin.Token}, parley.Command{Token: altToken})
	wantCode(t, "a guest token from a connection with the banned account's cookie", errOf(f), parley.EBanned)
	if c, f := hello(t, e.n, node.Peer{}, parley.Command{Token: altToken}); f.T != "reply" {
		t.Errorf("the guest token without the cookie: %+v", f)
	} else {
		e.n.Disconnect(ctx, c.s)
	}
	_, err = e.n.Login(ctx, "erin", "pw-of-erin", netip.Addr{})
	wantCode(t, "login of a banned account", err, parley.EBanned)
	_, _, err = e.n.Authenticate(ctx, erin.Token)
	wantCode(t, "the API with a banned account's login", err, parley.EBanned)
	if bans, err := e.n.Bans(ctx, mod); err != nil || len(bans) != 2 {
		t.Errorf("bans in force: %+v, %v; want the prefix and the account", bans, err)
	}
	if _, err := e.n.Unban(ctx, mod, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, f := hello(t, e.n, node.Peer{}, parley.Command{Token: erin.Token}); f.T != "reply" {
		t.Errorf("erin after the ban is lifted: %+v", f)
	}
}

// A kick closes every session of the person, with who and why; they may
// come back at once.
func TestKickClosesEverySessionOfThePerson(t *testing.T) {
	e := newEnv(t, node.Config{})
	alice, f := hello(t, e.n, node.Peer{}, parley.Command{Nickname: "alice"})
	alice2, _ := hello(t, e.n, node.Peer{}, parley.Command{Token: f.Reply.Token})
	bob := guest(t, e.n, "bob", "")
	if err := e.n.Kick(ctx, mod, "ALICE", "spam"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*conn{alice, alice2} {
		why, frame := c.awaitClosed()
		if parley.ErrorCode(why) != parley.EKicked || frame.Code != parley.EKicked || frame.Message != "you were kicked by mod: spam" {
			t.Errorf("alice's session: closed %v after %+v; want kicked by mod: spam", why, frame)
		}
	}
	// A kicked session's commands are ignored.
	alice.n.Handle(ctx, alice.s, parley.Command{Op: parley.OpRooms, Ref: "late"})
	if _, ok := alice.find(func(f wireFrame) bool { return f.Ref == "late" }); ok {
		t.Error("a kicked session's command was answered")
	}
	time.Sleep(20 * time.Millisecond)
	if bob.closedWith() != nil {
		t.Errorf("bob was closed: %v", bob.closedWith())
	}
	if _, f := hello(t, e.n, node.Peer{}, parley.Command{Token: f.Reply.Token}); f.T != "reply" {
		t.Errorf("alice comes back: %+v", f)
	}
	wantCode(t, "kick a nickname nobody has", e.n.Kick(ctx, mod, "nobody", ""), parley.ENotFound)
	log, _ := e.n.ActionLog(ctx, mod, 0, 0)
	if len(log) == 0 || log[0].Kind != parley.ActKick || log[0].Actor != "mod" || log[0].Target != "alice" || log[0].Detail != "spam" {
		t.Errorf("action log: %+v; want the kick", log)
	}
}

// A muted person cannot post in that room (and is told); unmuted, they
// can again. A timed mute ends by itself.
func TestMute(t *testing.T) {
	clock := newClock()
	e := newEnv(t, node.Config{Now: clock.Now})
	bob := member(t, e.n, "bob", "lobby")
	if f := bob.do(parley.Command{Op: parley.OpJoin, Room: "other"}); f.T != "reply" {
		t.Fatal(f)
	}
	m, err := e.n.Mute(ctx, mod, "Lobby", "Bob", 10*time.Minute, "calm down")
	if err != nil || m.Room != "lobby" || m.Nickname != "bob" {
		t.Fatalf("mute: %+v, %v", m, err)
	}
	ev := bob.awaitEvent(parley.EventMuted)
	if ev.Room != "lobby" || ev.Nickname != "bob" || ev.Mute == nil || !ev.Mute.ExpiresAt.Equal(clock.Now().Add(10*time.Minute)) || ev.Mute.Reason != "calm down" {
		t.Errorf("muted event: %+v %+v", ev, ev.Mute)
	}
	f := bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "hey"})
	want := "you are muted in lobby until " + clock.Now().Add(10*time.Minute).Format(time.RFC3339) + ": calm down"
	if f.Code != parley.EMuted || f.Message != want {
		t.Errorf("send while muted: %+v; want muted %q", f, want)
	}
	if f := bob.do(parley.Command{Op: parley.OpSend, Room: "other", Text: "hey"}); f.T != "reply" {
		t.Errorf("send in another room: %+v", f)
	}
	if mutes, err := e.n.Mutes(ctx, mod, "lobby"); err != nil || len(mutes) != 1 {
		t.Errorf("mutes of lobby: %+v, %v", mutes, err)
	}
	if err := e.n.Unmute(ctx, mod, "lobby", "bob"); err != nil {
		t.Fatal(err)
	}
	bob.awaitEvent(parley.EventUnmuted)
	if f := bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "thanks"}); f.T != "reply" {
		t.Errorf("send after unmute: %+v", f)
	}
	wantCode(t, "unmute again", e.n.Unmute(ctx, mod, "lobby", "bob"), parley.ENotFound)

	if _, err := e.n.Mute(ctx, mod, "lobby", "bob", time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "send while muted for a minute", errOf(bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "x"})), parley.EMuted)
	clock.advance(time.Minute)
	if f := bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "free"}); f.T != "reply" {
		t.Errorf("send after the mute expired: %+v", f)
	}
	_, err = e.n.Mute(ctx, mod, "lobby", "nobody", 0, "")
	wantCode(t, "mute someone unknown", err, parley.ENotFound)
}

// Slow mode: one message per person per window in the room, whichever
// connection it comes from; moderators are exempt; members are told and
// the join ack carries it.
func TestSlowMode(t *testing.T) {
	clock := newClock()
	e := newEnv(t, node.Config{Now: clock.Now})
	bob, f := hello(t, e.n, node.Peer{}, parley.Command{Nickname: "bob"})
	bob2, _ := hello(t, e.n, node.Peer{}, parley.Command{Token: f.Reply.Token})
	for _, c := range []*conn{bob, bob2} {
		c.do(parley.Command{Op: parley.OpJoin, Room: "lobby"})
	}
	modLogin := e.register("mod", parley.RoleModerator)
	modConn, _ := hello(t, e.n, node.Peer{}, parley.Command{Token: modLogin.Token})
	modConn.do(parley.Command{Op: parley.OpJoin, Room: "lobby"})

	if _, err := e.n.SetSlowMode(ctx, mod, "lobby", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if ev := bob.awaitEvent(parley.EventRoomSettings); ev.Room != "lobby" || ev.Settings == nil || ev.Settings.SlowMode != 10*time.Second {
		t.Errorf("room.settings event: %+v", ev)
	}
	late := member(t, e.n, "late", "lobby")
	if f, _ := late.find(func(f wireFrame) bool { return f.T == "reply" && f.Reply.Op == parley.OpJoin }); f.Reply.SlowMode != 10*time.Second {
		t.Errorf("join ack: %+v; want slow mode 10s", f.Reply)
	}
	if f := bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "one"}); f.T != "reply" {
		t.Fatalf("first message: %+v", f)
	}
	clock.advance(3 * time.Second)
	for name, c := range map[string]*conn{"the same connection": bob, "another connection": bob2} {
		f := c.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "two"})
		if f.Code != parley.ERateLimited || f.RetryAfter != 7*time.Second || f.Message != "slow mode: one message every 10 s" {
			t.Errorf("second message within the window from %s: %+v; want rate_limited, retry after 7s", name, f)
		}
	}
	for i := 0; i < 3; i++ {
		if f := modConn.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "mod speaks"}); f.T != "reply" {
			t.Errorf("a moderator in slow mode: %+v", f)
		}
	}
	clock.advance(7 * time.Second)
	if f := bob2.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "two"}); f.T != "reply" {
		t.Errorf("after the window: %+v", f)
	}
	// People posting through the API are held to it too; keys are not.
	_, _, err := e.n.Post(ctx, actor("bob", parley.RoleUser), "lobby", "via api", "")
	wantCode(t, "a person posting through the API in slow mode", err, parley.ERateLimited)
	for i := 0; i < 2; i++ {
		if _, _, err := e.n.Post(ctx, parley.Actor{Name: "key:bot", Role: parley.RoleAdmin, Via: "api_key"}, "lobby", "bot", ""); err != nil {
			t.Errorf("an API key in slow mode: %v", err)
		}
	}
	// Off.
	if _, err := e.n.SetSlowMode(ctx, mod, "lobby", 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if f := bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "free"}); f.T != "reply" {
			t.Errorf("slow mode off: %+v", f)
		}
	}
	_, err = e.n.SetSlowMode(ctx, mod, "lobby", 2*time.Hour)
	wantCode(t, "slow mode of 2 hours", err, parley.EInvalid)
	_, err = e.n.SetSlowMode(ctx, mod, "nowhere", time.Second)
	wantCode(t, "slow mode of a room that does not exist", err, parley.ENotFound)
}

// A role change reaches the person's sessions at once: the event, and
// what the role exempts them from.
func TestRoleChangeReachesSessions(t *testing.T) {
	clock := newClock()
	e := newEnv(t, node.Config{Now: clock.Now})
	l := e.register("bob", parley.RoleUser)
	bob, _ := hello(t, e.n, node.Peer{}, parley.Command{Token: l.Token})
	bob.do(parley.Command{Op: parley.OpJoin, Room: "lobby"})
	if _, err := e.n.SetSlowMode(ctx, mod, "lobby", time.Minute); err != nil {
		t.Fatal(err)
	}
	bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "one"})
	wantCode(t, "second message", errOf(bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "two"})), parley.ERateLimited)
	if _, err := e.n.SetRole(ctx, operator, "bob", parley.RoleModerator); err != nil {
		t.Fatal(err)
	}
	if ev := bob.awaitEvent(parley.EventRole); ev.Nickname != "bob" || ev.Role != parley.RoleModerator {
		t.Errorf("role event: %+v", ev)
	}
	if f := bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "two"}); f.T != "reply" {
		t.Errorf("a new moderator in slow mode: %+v", f)
	}
}

// A deleted message becomes a tombstone for the room's members, in
// history too; the room's next messages flow on.
func TestDeleteMessage(t *testing.T) {
	e := newEnv(t, node.Config{})
	alice := member(t, e.n, "alice", "lobby")
	bob := member(t, e.n, "bob", "lobby")
	alice.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "oops @bob"})
	alice.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "fine"})
	m, err := e.n.DeleteMessage(ctx, mod, "lobby", 1)
	if err != nil || !m.Deleted || m.DeletedBy != "mod" || m.Text != "" || m.Seq != 1 || m.From != "alice" {
		t.Fatalf("delete: %+v, %v", m, err)
	}
	for name, c := range map[string]*conn{"alice": alice, "bob": bob} {
		ev := c.awaitEvent(parley.EventDeleted)
		if ev.Room != "lobby" || ev.Message == nil || !ev.Message.Deleted || ev.Message.Seq != 1 || ev.Message.Text != "" || ev.Message.HTML != "" || len(ev.Message.Mentions) != 0 {
			t.Errorf("%s's message.deleted: %+v %+v", name, ev, ev.Message)
		}
	}
	h := bob.do(parley.Command{Op: parley.OpHistory, Room: "lobby"})
	if len(h.Reply.Messages) != 2 || !h.Reply.Messages[0].Deleted || h.Reply.Messages[0].DeletedBy != "mod" || h.Reply.Messages[1].Text != "fine" {
		t.Errorf("history: %+v; want the tombstone then the next message", h.Reply.Messages)
	}
	alice.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "three"})
	eventually(t, "bob gets message 3", func() bool { return len(bob.events(parley.EventMessage)) == 3 })
	var seqs []int64
	for _, ev := range bob.events(parley.EventMessage) {
		seqs = append(seqs, ev.Message.Seq)
	}
	if !consecutive(seqs, 1, 3) {
		t.Errorf("bob's messages %v; want 1, 2, 3", seqs)
	}
	if m2, err := e.n.DeleteMessage(ctx, mod, "lobby", 1); err != nil || !m2.Deleted {
		t.Errorf("delete a tombstone again: %+v, %v", m2, err)
	}
	_, err = e.n.DeleteMessage(ctx, mod, "lobby", 99)
	wantCode(t, "delete a message that does not exist", err, parley.ENotFound)
	if log, _ := e.n.ActionLog(ctx, mod, 0, 1); len(log) != 1 || log[0].Kind != parley.ActDelete || log[0].Room != "lobby" {
		t.Errorf("action log: %+v", log)
	}
}

// A scheduled announcement reaches the people connected when it starts,
// not before, once; a deleted one is withdrawn from everyone.
func TestScheduledAnnouncement(t *testing.T) {
	// The node's clock runs 100 days ahead of the machine's: the timer
	// must follow Config.Now.
	offset := 100 * 24 * time.Hour
	now := func() time.Time { return time.Now().Add(offset) }
	e := newEnv(t, node.Config{Now: now})
	alice := guest(t, e.n, "alice", "")
	start := now().Add(400 * time.Millisecond).Truncate(time.Millisecond) // as the store keeps it
	a, err := e.n.Announce(ctx, operator, node.AnnouncementRequest{Text: "soon", StartsAt: start, TTL: time.Hour})
	if err != nil || !a.StartsAt.Equal(start.UTC()) || !a.ExpiresAt.Equal(start.Add(time.Hour).UTC()) || a.By != "operator" {
		t.Fatalf("announce: %+v, %v", a, err)
	}
	if all, err := e.n.AllAnnouncements(ctx, operator); err != nil || len(all) != 1 {
		t.Errorf("all announcements: %+v, %v; want the scheduled one", all, err)
	}
	if active, _ := e.n.Announcements(ctx); len(active) != 0 {
		t.Errorf("active before the start: %+v", active)
	}
	ev := alice.awaitEvent(parley.EventAnnouncement)
	if at := alice.eventFrames(parley.EventAnnouncement)[0].At.Add(offset); ev.Announcement.ID != a.ID || at.Before(start) {
		t.Errorf("announcement %+v at %v; want %d from %v", ev.Announcement, at, a.ID, start)
	}
	time.Sleep(100 * time.Millisecond)
	if got := len(alice.events(parley.EventAnnouncement)); got != 1 {
		t.Errorf("%d announcement events; want 1", got)
	}
	// Later arrivals get it after their welcome.
	bob := guest(t, e.n, "bob", "")
	bob.awaitEvent(parley.EventAnnouncement)

	// Withdrawn: everyone is told; a scheduled one withdrawn never comes.
	later, err := e.n.Announce(ctx, operator, node.AnnouncementRequest{Text: "later", StartsAt: now().Add(300 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.n.DeleteAnnouncement(ctx, operator, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.n.DeleteAnnouncement(ctx, operator, later.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*conn{alice, bob} {
		eventually(t, "announcement.deleted events", func() bool { return len(c.events(parley.EventAnnouncementDeleted)) == 2 })
		if ev := c.events(parley.EventAnnouncementDeleted)[0]; ev.Announcement == nil || ev.Announcement.ID != a.ID {
			t.Errorf("announcement.deleted: %+v", ev)
		}
	}
	time.Sleep(500 * time.Millisecond)
	for _, ev := range alice.events(parley.EventAnnouncement) {
		if ev.Announcement.ID == later.ID {
			t.Error("a withdrawn scheduled announcement was pushed")
		}
	}
	_, err = e.n.DeleteAnnouncement(ctx, operator, a.ID)
	wantCode(t, "delete it again", err, parley.ENotFound)
	_, err = e.n.Announce(ctx, operator, node.AnnouncementRequest{Text: "x", StartsAt: now(), EndsAt: now().Add(-time.Hour)})
	wantCode(t, "an announcement that ends before it starts", err, parley.EInvalid)
}

// The integration methods: users with their online state, rooms with
// their members and slow mode, history pages.
func TestIntegrationReads(t *testing.T) {
	e := newEnv(t, node.Config{})
	member(t, e.n, "alice", "lobby")
	e.register("zed", parley.RoleUser)
	for i := 0; i < 3; i++ {
		if _, _, err := e.n.Post(ctx, operator, "lobby", "m", ""); err != nil {
			t.Fatal(err)
		}
	}
	m, dup, err := e.n.Post(ctx, operator, "news", "once", "c1")
	m2, dup2, _ := e.n.Post(ctx, operator, "news", "once", "c1")
	if err != nil || dup || !dup2 || m2.ID != m.ID {
		t.Errorf("post with a client ID twice: %v %v %v; want the first back", dup, dup2, err)
	}
	users, err := e.n.Users(ctx, operator, "", 0)
	if err != nil || len(users) < 2 || users[0].Nickname != "alice" || !users[0].Online || users[len(users)-1].Nickname != "zed" || users[len(users)-1].Online || !users[len(users)-1].Registered {
		t.Errorf("users: %+v, %v", users, err)
	}
	rooms, err := e.n.RoomList(ctx, operator)
	if err != nil || len(rooms) != 2 || rooms[0].Name != "lobby" || rooms[0].Members != 1 || rooms[0].LastSeq != 3 {
		t.Errorf("rooms: %+v, %v", rooms, err)
	}
	msgs, more, err := e.n.RoomHistory(ctx, operator, "lobby", 0, 0, 2)
	if err != nil || len(msgs) != 2 || !more || msgs[0].Seq != 2 {
		t.Errorf("history page: %+v %v %v", msgs, more, err)
	}
	msgs, more, _ = e.n.RoomHistory(ctx, operator, "lobby", 0, 1, 10)
	if len(msgs) != 2 || more || msgs[0].Seq != 2 {
		t.Errorf("history after 1: %+v %v", msgs, more)
	}
	_, _, err = e.n.Post(ctx, parley.Actor{Name: "key:not a nick!", Role: parley.RoleAdmin, Via: "api_key"}, "lobby", "x", "")
	wantCode(t, "post under an invalid name", err, parley.EInvalid)
	if _, _, err := e.n.Post(ctx, operator, "dm:a:b", "x", ""); parley.ErrorCode(err) != parley.EInvalid {
		t.Errorf("post to a direct conversation: %v; want invalid", err)
	}
}

// What a node knows of bans heals from the store within 30 s: a ban
// whose event it missed (written by another node while its link was cut)
// refuses hello once the snapshot is that old.
func TestMissedBanHealsWithinTheRefresh(t *testing.T) {
	clock := newClock()
	e := newEnv(t, node.Config{Now: clock.Now})
	guest(t, e.n, "first", "") // the snapshot is loaded
	if _, err := e.store.AddBan(ctx, parley.Ban{Kind: parley.BanNickname, Value: "mallory", By: "elsewhere", CreatedAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, f := hello(t, e.n, node.Peer{}, parley.Command{Nickname: "mallory2"}); f.T != "reply" {
		t.Fatal(f)
	}
	clock.advance(29 * time.Second)
	if c, f := hello(t, e.n, node.Peer{}, parley.Command{Nickname: "mallory"}); f.T != "reply" {
		t.Fatalf("before the refresh the node cannot know: %+v", f)
	} else {
		e.n.Disconnect(ctx, c.s)
	}
	clock.advance(2 * time.Second) // the next use starts a refresh
	hello(t, e.n, node.Peer{}, parley.Command{Nickname: "someone"})
	eventually(t, "the missed ban is in force", func() bool {
		c, f := hello(t, e.n, node.Peer{}, parley.Command{Nickname: "mallory"})
		if f.T == "reply" {
			e.n.Disconnect(ctx, c.s)
		}
		return f.Code == parley.EBanned
	})
}

// A hello with nothing — no nickname, no token, no login cookie — asks for
// a nickname (the protocol lets an empty hello through for the cookie).
func TestEmptyHelloWithoutACookieAsksForANickname(t *testing.T) {
	e := newEnv(t, node.Config{})
	_, f := hello(t, e.n, node.Peer{}, parley.Command{})
	wantCode(t, "an empty hello", errOf(f), parley.EMissingField)
	_, f = hello(t, e.n, node.Peer{Token: "not-a-login"}, parley.Command{})
	wantCode(t, "an empty hello with a stale cookie", errOf(f), parley.EMissingField)
}
