// Package storetest is the behaviour suite every parley.Store must pass.
// Each implementation's tests call Run with a function that opens a fresh,
// empty store; the suite is the specification of the Store interface.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// Opener opens a store on dir. Called twice with the same dir, the second
// store must see what the first one (closed) wrote.
type Opener func(t *testing.T, dir string) parley.Store

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s parley.Store)
	}{
		{"AppendAssignsIDsAndPerRoomSequences", testAppendSequences},
		{"LobbyExistsAndRoomsAreCreatedOnFirstUse", testRooms},
		{"DirectConversationsHaveTheirOwnSequences", testDirectSequences},
		{"ClientIDIsAnIdempotencyKeyPerSender", testClientID},
		{"HistoryPages", testHistory},
		{"AfterResumes", testAfter},
		{"ConcurrentAppendsKeepSequencesGapFree", testConcurrentAppends},
		{"QueuedAppendsKeepTheirOrderAndFindDuplicates", testQueuedAppends},
		{"ClaimNickname", testClaimNickname},
		{"TouchUserNeverMovesTheCursorBack", testTouchUser},
		{"DirectSinceReturnsMessagesToTheUser", testDirectSince},
		{"DirectConversationsOfAUser", testDirectConversations},
		{"Announcements", testAnnouncements},
		{"CancelledContext", testCancelledContext},
		// Accounts (accounts.go).
		{"RegisteredNicknameIsNeverReleased", testRegisteredNicknameIsNeverReleased},
		{"CredentialsOfGuestsAndRegisteredUsers", testCredentials},
		{"SetRole", testSetRole},
		{"UsersPages", testUsers},
		{"SessionsExpireAndEnd", testSessions},
		{"APIKeys", testAPIKeys},
		// Moderation (moderation.go).
		{"Bans", testBans},
		{"MutesReplaceExpireAndLift", testMutes},
		{"SlowMode", testSlowMode},
		{"DeleteMessageLeavesATombstone", testDeleteMessage},
		{"ActionLogPagesNewestFirst", testActions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, t.TempDir())
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
	t.Run("DataSurvivesReopen", func(t *testing.T) { testReopen(t, open) })
}

var ctx = context.Background()

// T0 is the suite's clock: whole milliseconds, as stores keep them.
var T0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// MustAppend appends m and fails the test on error.
func MustAppend(tb testing.TB, s parley.Store, m parley.Message) parley.Message {
	tb.Helper()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = T0
	}
	if m.From == "" {
		m.From = "alice"
	}
	if m.HTML == "" {
		m.HTML = "<p>" + m.Text + "</p>"
	}
	got, dup, err := s.Append(ctx, m)
	if err != nil {
		tb.Fatalf("Append(%s, %q): %v", m.Room, m.Text, err)
	}
	if dup {
		tb.Fatalf("Append(%s, %q): dup = true; want a new message", m.Room, m.Text)
	}
	return got
}

// MustHistory reads a page and fails the test on error.
func MustHistory(tb testing.TB, s parley.Store, room string, before int64, limit int) []parley.Message {
	tb.Helper()
	msgs, err := s.History(ctx, room, before, limit)
	if err != nil {
		tb.Fatalf("History(%s, %d, %d): %v", room, before, limit, err)
	}
	return msgs
}

func texts(msgs []parley.Message) string {
	out := ""
	for i, m := range msgs {
		if i > 0 {
			out += " "
		}
		out += m.Text
	}
	return out
}

func testAppendSequences(t *testing.T, s parley.Store) {
	var lastID int64
	for i, tc := range []struct {
		room    string
		wantSeq int64
	}{{"a", 1}, {"a", 2}, {"b", 1}, {"a", 3}, {"b", 2}} {
		m := MustAppend(t, s, parley.Message{Room: tc.room, Text: fmt.Sprint(i), Mentions: []string{"bob"}, ClientID: ""})
		if m.Seq != tc.wantSeq {
			t.Errorf("message %d in %s: Seq = %d; want %d", i, tc.room, m.Seq, tc.wantSeq)
		}
		if m.ID <= lastID {
			t.Errorf("message %d: ID = %d; want > %d", i, m.ID, lastID)
		}
		lastID = m.ID
	}
	got := MustHistory(t, s, "a", 0, 10)
	if len(got) != 3 {
		t.Fatalf("History(a) has %d messages; want 3", len(got))
	}
	m := got[0]
	if m.From != "alice" || m.Text != "0" || m.HTML != "<p>0</p>" || !m.CreatedAt.Equal(T0) || len(m.Mentions) != 1 || m.Mentions[0] != "bob" {
		t.Errorf("stored message = %+v; want fields as appended", m)
	}
}

func testRooms(t *testing.T, s parley.Store) {
	rooms, err := s.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 1 || rooms[0].Name != parley.Lobby {
		t.Errorf("rooms of a new store = %+v; want just lobby", rooms)
	}
	r, err := s.EnsureRoom(ctx, "garden")
	if err != nil || r.Name != "garden" || r.LastSeq != 0 {
		t.Errorf("EnsureRoom(garden) = %+v, %v; want garden, seq 0", r, err)
	}
	MustAppend(t, s, parley.Message{Room: "attic", Text: "x"})
	MustAppend(t, s, parley.Message{Room: "garden", Text: "y"})
	if r, _ := s.EnsureRoom(ctx, "garden"); r.LastSeq != 1 {
		t.Errorf("EnsureRoom of an existing room: LastSeq = %d; want 1", r.LastSeq)
	}
	rooms, _ = s.Rooms(ctx)
	var names []string
	for _, r := range rooms {
		names = append(names, r.Name)
	}
	if fmt.Sprint(names) != "[attic garden lobby]" {
		t.Errorf("Rooms = %v; want [attic garden lobby]", names)
	}
}

func testDirectSequences(t *testing.T, s parley.Store) {
	key := parley.DMKey("alice", "bob")
	MustAppend(t, s, parley.Message{Room: "lobby", Text: "room"})
	m := MustAppend(t, s, parley.Message{Room: key, To: "bob", Text: "dm"})
	if m.Seq != 1 || m.To != "bob" {
		t.Errorf("first DM: Seq = %d, To = %q; want 1, bob", m.Seq, m.To)
	}
	rooms, _ := s.Rooms(ctx)
	for _, r := range rooms {
		if parley.IsDMKey(r.Name) {
			t.Errorf("Rooms lists the direct conversation %s", r.Name)
		}
	}
	if got := texts(MustHistory(t, s, key, 0, 10)); got != "dm" {
		t.Errorf("History(%s) = %q; want dm", key, got)
	}
}

// queuer is a store that takes appends into a queue (node pipelines a
// connection's sends with it); both stores are.
type queuer interface {
	QueueAppend(ctx context.Context, m parley.Message) (wait func() (parley.Message, bool, error))
}

// testQueuedAppends: appends queued one after another, hundreds at a time
// (so that the store takes many in one batch), are stored in that order
// within their rooms, gap-free; a client_id stored before, or queued
// earlier in the same burst, is answered with its original and uses no
// seq; a direct message and a message without client_id among them are
// stored as alone.
func testQueuedAppends(t *testing.T, s parley.Store) {
	q, ok := s.(queuer)
	if !ok {
		t.Skip("the store does not queue appends")
	}
	before := MustAppend(t, s, parley.Message{Room: "lobby", From: "Alice", Text: "before", ClientID: "c-before"})
	const n = 600
	msgs := make([]parley.Message, n)
	waits := make([]func() (parley.Message, bool, error), n)
	dupOf := map[int]int{} // i → the index of the message it repeats (-1: before)
	for i := range msgs {
		m := parley.Message{Room: fmt.Sprint("q", i%3), From: fmt.Sprint("p", i%7), Text: fmt.Sprint(i), HTML: fmt.Sprint("<p>", i, "</p>"), ClientID: fmt.Sprint("id-", i), CreatedAt: T0}
		if i%5 == 4 { // a direct message between the same people
			m.To = fmt.Sprint("p", (i%7+1+i%3)%7)
			m.Room = parley.DMKey(m.From, m.To)
		}
		switch i {
		case 100:
			m = parley.Message{Room: "lobby", From: "alice", Text: "before, again", ClientID: "c-before", CreatedAt: T0}
			dupOf[i] = -1
		case 201:
			m.From, m.ClientID = msgs[200].From, msgs[200].ClientID
			dupOf[i] = 200
		case 300:
			m = parley.Message{Room: parley.DMKey("alice", "bob"), From: "alice", To: "bob", Text: "dm", ClientID: "dm-1", CreatedAt: T0}
		case 301:
			m.ClientID = ""
		}
		msgs[i], waits[i] = m, q.QueueAppend(ctx, m)
	}
	next := map[string]int64{}
	stored := make([]parley.Message, n)
	for i, wait := range waits {
		got, dup, err := wait()
		if err != nil {
			t.Fatalf("queued append %d: %v", i, err)
		}
		stored[i] = got
		if j, ok := dupOf[i]; ok {
			want := before
			if j >= 0 {
				want = stored[j]
			}
			if !dup || got.ID != want.ID || got.Seq != want.Seq || got.Text != want.Text {
				t.Errorf("queued append %d (a repeated client_id) = %+v, dup %v; want the original %+v, dup", i, got, dup, want)
			}
			continue
		}
		next[got.Room]++
		if dup || got.Seq != next[got.Room] || got.Room != msgs[i].Room || got.Text != msgs[i].Text || got.ClientID != msgs[i].ClientID || !got.CreatedAt.Equal(T0) {
			t.Fatalf("queued append %d = %+v, dup %v; want %q in %s with seq %d", i, got, dup, msgs[i].Text, msgs[i].Room, next[got.Room])
		}
	}
	for room, last := range next {
		r, err := s.EnsureRoom(ctx, room)
		if err != nil || r.LastSeq != last {
			t.Errorf("room %s = %+v, %v; want last seq %d", room, r, err, last)
		}
	}
	if h := MustHistory(t, s, "lobby", 0, 10); len(h) != 1 {
		t.Errorf("lobby history = %+v; want only the message sent before", h)
	}
	// Each person's direct messages, all of them, in the order of their IDs;
	// each conversation's in the order queued (across conversations the
	// order of IDs is the store's).
	for p := range 7 {
		nick := fmt.Sprint("p", p)
		want := map[string]int{} // text → index queued
		for i, m := range msgs {
			if _, isDup := dupOf[i]; !isDup && m.To == nick {
				want[m.Text] = i
			}
		}
		got, err := s.DirectSince(ctx, nick, 0, n)
		if err != nil || len(got) != len(want) {
			t.Fatalf("DirectSince(%s) = %q, %v; want the %d sent to them", nick, texts(got), err, len(want))
		}
		last := map[string]int{}
		for k, m := range got {
			i, ok := want[m.Text]
			j, before := last[m.Room]
			if !ok || (k > 0 && m.ID <= got[k-1].ID) || (before && i < j) {
				t.Fatalf("DirectSince(%s) = %q; want IDs increasing and each conversation in the order queued", nick, texts(got))
			}
			last[m.Room] = i
		}
	}
}

func testClientID(t *testing.T, s parley.Store) {
	first := MustAppend(t, s, parley.Message{Room: "lobby", From: "Alice", Text: "once", ClientID: "c1"})
	again, dup, err := s.Append(ctx, parley.Message{Room: "lobby", From: "alice", Text: "twice", ClientID: "c1", CreatedAt: T0})
	if err != nil || !dup || again.ID != first.ID || again.Seq != first.Seq || again.Text != "once" {
		t.Errorf("resend = %+v, dup %v, %v; want the first message, dup", again, dup, err)
	}
	other := MustAppend(t, s, parley.Message{Room: "lobby", From: "bob", Text: "bob's", ClientID: "c1"})
	if other.ID == first.ID {
		t.Error("the same client_id from another sender was taken for a duplicate")
	}
	MustAppend(t, s, parley.Message{Room: "lobby", Text: "no id"})
	MustAppend(t, s, parley.Message{Room: "lobby", Text: "no id"})
	if n := len(MustHistory(t, s, "lobby", 0, 100)); n != 4 {
		t.Errorf("lobby holds %d messages; want 4 (the resend stored nothing)", n)
	}
}

func testHistory(t *testing.T, s parley.Store) {
	for i := 1; i <= 7; i++ {
		MustAppend(t, s, parley.Message{Room: "lobby", Text: fmt.Sprint("m", i)})
	}
	for _, tc := range []struct {
		before int64
		limit  int
		want   string
	}{
		{0, 3, "m5 m6 m7"},
		{5, 3, "m2 m3 m4"},
		{3, 10, "m1 m2"},
		{1, 10, ""},
		{0, 100, "m1 m2 m3 m4 m5 m6 m7"},
	} {
		if got := texts(MustHistory(t, s, "lobby", tc.before, tc.limit)); got != tc.want {
			t.Errorf("History(before %d, limit %d) = %q; want %q", tc.before, tc.limit, got, tc.want)
		}
	}
	if got := MustHistory(t, s, "nowhere", 0, 10); got == nil || len(got) != 0 {
		t.Errorf("History of an unknown room = %#v; want an empty slice", got)
	}
}

func testAfter(t *testing.T, s parley.Store) {
	for i := 1; i <= 5; i++ {
		MustAppend(t, s, parley.Message{Room: "lobby", Text: fmt.Sprint("m", i)})
	}
	got, err := s.After(ctx, "lobby", 2, 2)
	if err != nil || texts(got) != "m3 m4" {
		t.Errorf("After(2, 2) = %q, %v; want m3 m4", texts(got), err)
	}
	if got, _ := s.After(ctx, "lobby", 5, 10); len(got) != 0 {
		t.Errorf("After(last) = %q; want nothing", texts(got))
	}
}

func testConcurrentAppends(t *testing.T, s parley.Store) {
	const writers, each = 20, 15
	rooms := []string{"r0", "r1", "r2"}
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				m := parley.Message{Room: rooms[(w+i)%3], From: fmt.Sprint("u", w), Text: "x", HTML: "x", ClientID: fmt.Sprint(i), CreatedAt: T0}
				if _, _, err := s.Append(ctx, m); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	total := 0
	for _, room := range rooms {
		msgs := MustHistory(t, s, room, 0, writers*each)
		total += len(msgs)
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("room %s: message %d has Seq %d; want %d (gap-free)", room, i, m.Seq, i+1)
			}
		}
	}
	if total != writers*each {
		t.Errorf("stored %d messages; want %d", total, writers*each)
	}
}

func testClaimNickname(t *testing.T, s parley.Store) {
	t1 := T0.Add(time.Hour)
	u, err := s.ClaimNickname(ctx, "Alice", "tok-a", T0, T0.Add(-time.Hour))
	if err != nil || u.Nickname != "Alice" || !u.ClaimedAt.Equal(T0) {
		t.Fatalf("ClaimNickname(Alice) = %+v, %v", u, err)
	}
	if _, err := s.ClaimNickname(ctx, "alice", "tok-b", T0, T0.Add(-time.Hour)); parley.ErrorCode(err) != parley.ENicknameTaken {
		t.Errorf("claim of a held nickname, other case: %v; want nickname_taken", err)
	}
	if u, err := s.ClaimNickname(ctx, "Alice", "tok-a", T0, T0); err != nil || u.Nickname != "Alice" {
		t.Errorf("the holder claiming again: %+v, %v; want success", u, err)
	}
	if u, err := s.UserByToken(ctx, "tok-a"); err != nil || u.Nickname != "Alice" {
		t.Errorf("UserByToken = %+v, %v", u, err)
	}
	if u, err := s.UserByNickname(ctx, "ALICE"); err != nil || u.Nickname != "Alice" {
		t.Errorf("UserByNickname(ALICE) = %+v, %v", u, err)
	}
	if _, err := s.UserByToken(ctx, "nope"); parley.ErrorCode(err) != parley.ENotFound {
		t.Errorf("UserByToken(unknown): %v; want not_found", err)
	}
	if _, err := s.UserByNickname(ctx, "nobody"); parley.ErrorCode(err) != parley.ENotFound {
		t.Errorf("UserByNickname(unknown): %v; want not_found", err)
	}
	// Released after the hold: the new holder starts after the newest message.
	last := MustAppend(t, s, parley.Message{Room: parley.DMKey("bob", "alice"), From: "bob", To: "Alice", Text: "old"})
	u, err = s.ClaimNickname(ctx, "alice", "tok-c", t1, T0.Add(time.Minute))
	if err != nil || u.Nickname != "alice" || !u.ClaimedAt.Equal(t1) || u.DMCursor != last.ID {
		t.Errorf("claim after the hold = %+v, %v; want alice, claimed at %v, cursor %d", u, err, t1, last.ID)
	}
	if _, err := s.UserByToken(ctx, "tok-a"); parley.ErrorCode(err) != parley.ENotFound {
		t.Errorf("the old token after release: %v; want not_found", err)
	}
}

func testTouchUser(t *testing.T, s parley.Store) {
	if _, err := s.ClaimNickname(ctx, "bob", "tok", T0, T0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []int64{5, 3} {
		if err := s.TouchUser(ctx, "Bob", T0.Add(time.Minute), c, ""); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := s.UserByNickname(ctx, "bob")
	if u.DMCursor != 5 || !u.LastSeen.Equal(T0.Add(time.Minute)) || u.LastIP != "" {
		t.Errorf("user = %+v; want cursor 5 (never back), last seen %v, no IP", u, T0.Add(time.Minute))
	}
	// The address is kept until another one is given.
	for _, ip := range []string{"192.0.2.7", "", "2001:db8::1", ""} {
		if err := s.TouchUser(ctx, "bob", T0.Add(2*time.Minute), 0, ip); err != nil {
			t.Fatal(err)
		}
		if ip == "" {
			continue
		}
		if u, _ := s.UserByNickname(ctx, "bob"); u.LastIP != ip {
			t.Errorf("LastIP after TouchUser(%q) = %q", ip, u.LastIP)
		}
	}
	if u, _ := s.UserByToken(ctx, "tok"); u.LastIP != "2001:db8::1" || u.DMCursor != 5 || u.Registered {
		t.Errorf("UserByToken = %+v; want last IP 2001:db8::1 (an empty one keeps it), cursor 5, a guest", u)
	}
	if u, _ := s.UserByNickname(ctx, "nobody"); u.Nickname != "" {
		t.Errorf("UserByNickname(nobody) = %+v", u)
	}
	if err := s.TouchUser(ctx, "nobody", T0, 1, "192.0.2.1"); err != nil {
		t.Errorf("TouchUser of an unknown user: %v; want nil (nothing to touch)", err)
	}
}

func testDirectSince(t *testing.T, s parley.Store) {
	ab := parley.DMKey("alice", "bob")
	m1 := MustAppend(t, s, parley.Message{Room: ab, From: "alice", To: "Bob", Text: "1"})
	MustAppend(t, s, parley.Message{Room: ab, From: "bob", To: "alice", Text: "reply"})
	MustAppend(t, s, parley.Message{Room: "lobby", From: "alice", Text: "room"})
	MustAppend(t, s, parley.Message{Room: parley.DMKey("carol", "bob"), From: "carol", To: "bob", Text: "2"})
	got, err := s.DirectSince(ctx, "BOB", 0, 10)
	if err != nil || texts(got) != "1 2" {
		t.Errorf("DirectSince(bob, 0) = %q, %v; want 1 2", texts(got), err)
	}
	if got, _ := s.DirectSince(ctx, "bob", m1.ID, 10); texts(got) != "2" {
		t.Errorf("DirectSince(bob, after first) = %q; want 2", texts(got))
	}
}

func announcementsString(as []parley.Announcement) string {
	out := ""
	for _, a := range as {
		f := func(t time.Time) string { return t.UTC().Format("15:04") }
		out += fmt.Sprintf("%s(%s,%s-%s,%s,%s) ", a.Text, f(a.CreatedAt), f(a.StartsAt), f(a.ExpiresAt), a.By, a.HTML)
	}
	return out
}

func testAnnouncements(t *testing.T, s parley.Store) {
	add := func(a parley.Announcement) parley.Announcement {
		t.Helper()
		a.HTML = "<p>" + a.Text + "</p>"
		got, err := s.AddAnnouncement(ctx, a)
		want := a
		if want.StartsAt.IsZero() {
			want.StartsAt = a.CreatedAt
		}
		if err != nil || got.ID == 0 || announcementsString([]parley.Announcement{got}) != announcementsString([]parley.Announcement{want}) {
			t.Fatalf("AddAnnouncement(%+v) = %+v, %v; want it with an ID, StartsAt %v", a, got, err, want.StartsAt)
		}
		return got
	}
	h := func(n float64) time.Time { return T0.Add(time.Duration(n * float64(time.Hour))) }
	old := add(parley.Announcement{Text: "old", CreatedAt: T0, ExpiresAt: h(1)})
	add(parley.Announcement{Text: "new", CreatedAt: T0, ExpiresAt: h(3), By: "admin"})
	sched := add(parley.Announcement{Text: "sched", CreatedAt: T0, StartsAt: h(2), ExpiresAt: h(4), By: "admin"})
	add(parley.Announcement{Text: "mid", CreatedAt: h(0.25), StartsAt: h(0.5), ExpiresAt: h(5)})
	if old.ID >= sched.ID {
		t.Errorf("IDs %d then %d; want increasing", old.ID, sched.ID)
	}

	active := func(at time.Time) string {
		got, err := s.ActiveAnnouncements(ctx, at)
		if err != nil || got == nil {
			t.Fatalf("ActiveAnnouncements(%v) = %#v, %v", at, got, err)
		}
		return announcementsString(got)
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{T0, "old(10:00,10:00-11:00,,<p>old</p>) new(10:00,10:00-13:00,admin,<p>new</p>) "},
		{h(0.5), "old(10:00,10:00-11:00,,<p>old</p>) new(10:00,10:00-13:00,admin,<p>new</p>) mid(10:15,10:30-15:00,,<p>mid</p>) "},
		{h(1.5), "new(10:00,10:00-13:00,admin,<p>new</p>) mid(10:15,10:30-15:00,,<p>mid</p>) "},
		{h(2), "new(10:00,10:00-13:00,admin,<p>new</p>) sched(10:00,12:00-14:00,admin,<p>sched</p>) mid(10:15,10:30-15:00,,<p>mid</p>) "},
		{h(5), ""},
	} {
		if got := active(tc.at); got != tc.want {
			t.Errorf("ActiveAnnouncements(%s) =\n %s; want\n %s", tc.at.Format("15:04"), got, tc.want)
		}
	}

	all := func(at time.Time) string {
		got, err := s.Announcements(ctx, at)
		if err != nil || got == nil {
			t.Fatalf("Announcements(%v) = %#v, %v", at, got, err)
		}
		return announcementsString(got)
	}
	// Scheduled ones included, by StartsAt then ID; expired ones not.
	want := "old(10:00,10:00-11:00,,<p>old</p>) new(10:00,10:00-13:00,admin,<p>new</p>) mid(10:15,10:30-15:00,,<p>mid</p>) sched(10:00,12:00-14:00,admin,<p>sched</p>) "
	if got := all(T0); got != want {
		t.Errorf("Announcements(10:00) =\n %s; want\n %s", got, want)
	}
	want = "new(10:00,10:00-13:00,admin,<p>new</p>) mid(10:15,10:30-15:00,,<p>mid</p>) sched(10:00,12:00-14:00,admin,<p>sched</p>) "
	if got := all(h(1)); got != want {
		t.Errorf("Announcements(11:00) =\n %s; want\n %s", got, want)
	}

	del, err := s.DeleteAnnouncement(ctx, sched.ID)
	if err != nil || del.ID != sched.ID || del.Text != "sched" || !del.StartsAt.Equal(h(2)) {
		t.Errorf("DeleteAnnouncement = %+v, %v; want sched", del, err)
	}
	_, err = s.DeleteAnnouncement(ctx, sched.ID)
	wantCode(t, "DeleteAnnouncement again", err, parley.ENotFound)
	want = "new(10:00,10:00-13:00,admin,<p>new</p>) mid(10:15,10:30-15:00,,<p>mid</p>) "
	if got := all(h(1)); got != want {
		t.Errorf("Announcements after DeleteAnnouncement =\n %s; want\n %s", got, want)
	}
	if got := active(h(2)); got != want {
		t.Errorf("ActiveAnnouncements after DeleteAnnouncement =\n %s; want\n %s", got, want)
	}
}

func testCancelledContext(t *testing.T, s parley.Store) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Append(c, parley.Message{Room: "lobby", From: "a", Text: "x", HTML: "x", CreatedAt: T0})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Append with a cancelled context succeeded")
		} else if !errors.Is(err, context.Canceled) {
			t.Logf("Append with a cancelled context: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Append with a cancelled context did not return")
	}
}

func testReopen(t *testing.T, open Opener) {
	dir := t.TempDir()
	s := open(t, dir)
	m := MustAppend(t, s, parley.Message{Room: "kept", Text: "still here", ClientID: "k1"})
	if _, err := s.ClaimNickname(ctx, "alice", "tok", T0, T0); err != nil {
		t.Fatal(err)
	}
	writeAccountsAndModeration(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, _, err := s.Append(ctx, parley.Message{Room: "kept", From: "a", Text: "late", CreatedAt: T0}); parley.ErrorCode(err) != parley.EUnavailable {
		t.Errorf("Append after Close: %v; want unavailable", err)
	}
	s = open(t, dir)
	defer s.Close()
	if got := MustHistory(t, s, "kept", 0, 10); len(got) != 2 || got[0].ID != m.ID || got[0].Text != "still here" {
		t.Errorf("after reopen: %+v; want the message and a tombstone", got)
	}
	checkAccountsAndModeration(t, s)
	if _, dup, _ := s.Append(ctx, parley.Message{Room: "kept", From: "alice", Text: "again", ClientID: "k1", CreatedAt: T0}); !dup {
		t.Error("client_id forgotten after reopen")
	}
	if next := MustAppend(t, s, parley.Message{Room: "kept", Text: "next"}); next.Seq != 3 {
		t.Errorf("Seq after reopen = %d; want 3", next.Seq)
	}
	if u, err := s.UserByToken(ctx, "tok"); err != nil || u.Nickname != "alice" {
		t.Errorf("user after reopen = %+v, %v", u, err)
	}
}

func testDirectConversations(t *testing.T, s parley.Store) {
	MustAppend(t, s, parley.Message{Room: parley.DMKey("alice", "bob"), From: "alice", To: "bob", Text: "1"})
	MustAppend(t, s, parley.Message{Room: parley.DMKey("bob", "zed"), From: "zed", To: "bob", Text: "2"})
	MustAppend(t, s, parley.Message{Room: parley.DMKey("bob", "zed"), From: "bob", To: "zed", Text: "3"})
	MustAppend(t, s, parley.Message{Room: parley.DMKey("b", "carol"), From: "b", To: "carol", Text: "4"})
	MustAppend(t, s, parley.Message{Room: "bob", Text: "a room called bob"})
	got, err := s.DirectConversations(ctx, "Bob")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, fmt.Sprint(r.Name, "@", r.LastSeq))
	}
	if fmt.Sprint(names) != "[dm:alice:bob@1 dm:bob:zed@2]" {
		t.Errorf("DirectConversations(Bob) = %v; want [dm:alice:bob@1 dm:bob:zed@2]", names)
	}
	if got, _ := s.DirectConversations(ctx, "nobody"); len(got) != 0 {
		t.Errorf("DirectConversations(nobody) = %v; want none", got)
	}
}

// writeAccountsAndModeration stores one of each account and moderation
// record; checkAccountsAndModeration finds them (after a reopen).
func writeAccountsAndModeration(t *testing.T, s parley.Store) {
	t.Helper()
	gone := MustAppend(t, s, parley.Message{Room: "kept", Text: "gone"})
	if _, err := s.DeleteMessage(ctx, "kept", gone.Seq, "mod"); err != nil {
		t.Fatal(err)
	}
	MustRegister(t, s, "carol", "hash-c", T0)
	for _, err := range []error{
		s.TouchUser(ctx, "carol", T0, 0, "192.0.2.9"),
		s.AddSession(ctx, parley.AuthSession{TokenHash: "sess", Nickname: "carol", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}),
		second(s.SetRole(ctx, "carol", parley.RoleAdmin)),
		second(s.SetSlowMode(ctx, "kept", 5*time.Second)),
		second(s.AddAPIKey(ctx, parley.APIKey{Name: "bot", Prefix: "pk_1", Hash: "kh", CreatedBy: "carol", CreatedAt: T0})),
		second(s.AddBan(ctx, parley.Ban{Kind: parley.BanIP, Value: "198.51.100.0/24", By: "carol", CreatedAt: T0})),
		second(s.AddMute(ctx, parley.Mute{Room: "kept", Nickname: "dave", By: "carol", CreatedAt: T0})),
		second(s.LogAction(ctx, parley.Action{At: T0, Actor: "carol", Kind: parley.ActMute, Target: "dave", Room: "kept"})),
		second(s.AddAnnouncement(ctx, parley.Announcement{Text: "soon", CreatedAt: T0, StartsAt: T0.Add(time.Hour), ExpiresAt: T0.Add(2 * time.Hour), By: "carol"})),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func checkAccountsAndModeration(t *testing.T, s parley.Store) {
	t.Helper()
	if h := MustHistory(t, s, "kept", 0, 10); len(h) < 2 || !h[1].Deleted || h[1].DeletedBy != "mod" || h[1].Text != "" {
		t.Errorf("the tombstone after reopen: %+v", h)
	}
	if u, err := s.SessionUser(ctx, "sess", T0); err != nil || u.Nickname != "carol" || !u.Registered || u.Role != parley.RoleAdmin || u.LastIP != "192.0.2.9" {
		t.Errorf("SessionUser after reopen = %+v, %v; want carol, registered admin from 192.0.2.9", u, err)
	}
	if c, err := s.Credentials(ctx, "carol"); err != nil || c.PasswordHash != "hash-c" {
		t.Errorf("Credentials after reopen = %+v, %v", c, err)
	}
	if _, err := s.ClaimNickname(ctx, "carol", "tok-x", T0.Add(1000*time.Hour), T0.Add(1000*time.Hour)); parley.ErrorCode(err) != parley.ENicknameTaken {
		t.Errorf("ClaimNickname of a registered nickname after reopen: %v; want nickname_taken", err)
	}
	if r, err := s.EnsureRoom(ctx, "kept"); err != nil || r.SlowMode != 5*time.Second {
		t.Errorf("slow mode after reopen = %+v, %v; want 5s", r, err)
	}
	if k, err := s.APIKeyByHash(ctx, "kh"); err != nil || k.Name != "bot" {
		t.Errorf("API key after reopen = %+v, %v", k, err)
	}
	if b, err := s.Bans(ctx, T0); err != nil || len(b) != 1 || b[0].Value != "198.51.100.0/24" {
		t.Errorf("bans after reopen = %+v, %v", b, err)
	}
	if m, err := s.Mutes(ctx, T0); err != nil || len(m) != 1 || m[0].Nickname != "dave" {
		t.Errorf("mutes after reopen = %+v, %v", m, err)
	}
	if a, err := s.Actions(ctx, 0, 10); err != nil || len(a) != 1 || a[0].Target != "dave" {
		t.Errorf("actions after reopen = %+v, %v", a, err)
	}
	if a, err := s.Announcements(ctx, T0); err != nil || len(a) != 1 || a[0].By != "carol" || !a[0].StartsAt.Equal(T0.Add(time.Hour)) {
		t.Errorf("announcements after reopen = %+v, %v", a, err)
	}
}
