package node_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/node"
)

// Moderation made on one node acts on the sessions of every node: a mute,
// a slow mode, a kick, a ban; a scheduled announcement reaches each
// session once, from its own node.
func TestClusterModerationActsOnEveryNode(t *testing.T) {
	c := newCluster(t, 2)
	n1, n2 := c.nodes[0], c.nodes[1]
	carol := member(t, n1, "carol", "lobby")
	bobPeer := node.Peer{IP: netip.MustParseAddr("203.0.113.9")}
	bob, f := hello(t, n2, bobPeer, parley.Command{Nickname: "bob"})
	bobToken := f.Reply.Token
	bob.do(parley.Command{Op: parley.OpJoin, Room: "lobby"})
	eventually(t, "node 1 knows bob is online", func() bool {
		users, _ := n1.Users(ctx, operator, "", 0)
		for _, u := range users {
			if u.Nickname == "bob" && u.Online {
				return true
			}
		}
		return false
	})

	if _, err := n1.Mute(ctx, mod, "lobby", "bob", 0, "shh"); err != nil {
		t.Fatal(err)
	}
	bob.awaitEvent(parley.EventMuted)
	wantCode(t, "bob's send on node 2 after a mute on node 1", errOf(bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "x"})), parley.EMuted)
	if err := n1.Unmute(ctx, mod, "lobby", "bob"); err != nil {
		t.Fatal(err)
	}
	bob.awaitEvent(parley.EventUnmuted)

	if _, err := n1.SetSlowMode(ctx, mod, "lobby", time.Hour); err != nil {
		t.Fatal(err)
	}
	bob.awaitEvent(parley.EventRoomSettings)
	if f := bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "one"}); f.T != "reply" {
		t.Fatalf("bob's first message after unmute: %+v", f)
	}
	wantCode(t, "bob's second message in slow mode", errOf(bob.do(parley.Command{Op: parley.OpSend, Room: "lobby", Text: "two"})), parley.ERateLimited)
	m, err := n1.DeleteMessage(ctx, mod, "lobby", 1)
	if err != nil {
		t.Fatal(err)
	}
	if ev := bob.awaitEvent(parley.EventDeleted); ev.Message.Seq != m.Seq {
		t.Errorf("message.deleted on node 2: %+v", ev.Message)
	}

	if err := n1.Kick(ctx, mod, "bob", "out"); err != nil {
		t.Fatal(err)
	}
	if why, _ := bob.awaitClosed(); parley.ErrorCode(why) != parley.EKicked {
		t.Errorf("bob on node 2 after a kick on node 1: closed %v", why)
	}
	n2.Disconnect(ctx, bob.s)
	bob, f = hello(t, n2, bobPeer, parley.Command{Token: bobToken})
	if f.T != "reply" {
		t.Fatalf("bob back after the kick: %+v", f)
	}
	if _, err := n1.Ban(ctx, mod, node.BanRequest{Kind: parley.BanNickname, Target: "bob"}); err != nil {
		t.Fatal(err)
	}
	if why, _ := bob.awaitClosed(); parley.ErrorCode(why) != parley.EBanned {
		t.Errorf("bob on node 2 after a ban on node 1: closed %v", why)
	}
	_, f = hello(t, n2, node.Peer{}, parley.Command{Token: bobToken})
	wantCode(t, "bob's hello on node 2 after the ban", errOf(f), parley.EBanned)
	if _, err := n1.Ban(ctx, mod, node.BanRequest{Kind: parley.BanIP, Target: "203.0.113.9"}); err != nil {
		t.Fatal(err)
	}
	_, f = hello(t, n2, bobPeer, parley.Command{Nickname: "bobsbrother"})
	wantCode(t, "a new nickname on node 2 from an address banned on node 1", errOf(f), parley.EBanned)
	if carol.closedWith() != nil {
		t.Errorf("carol was closed: %v", carol.closedWith())
	}

	// Two scheduled announcements: each once per session, on both nodes
	// (the second start does not push the first again).
	dave := guest(t, n2, "dave", "")
	for _, after := range []time.Duration{300 * time.Millisecond, 550 * time.Millisecond} {
		if _, err := n2.Announce(ctx, operator, node.AnnouncementRequest{Text: "soon", StartsAt: time.Now().Add(after)}); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]*conn{"carol on node 1": carol, "dave on node 2": dave} {
		eventually(t, name+" gets both announcements", func() bool { return len(c.events(parley.EventAnnouncement)) >= 2 })
		time.Sleep(150 * time.Millisecond)
		evs := c.events(parley.EventAnnouncement)
		if len(evs) != 2 || evs[0].Announcement.ID == evs[1].Announcement.ID {
			t.Errorf("%s got %d announcement events; want each of the two once", name, len(evs))
		}
	}
}
