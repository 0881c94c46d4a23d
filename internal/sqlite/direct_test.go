package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// Appends committed in one batch through the writer's direct statements:
// each gets its row's id and the room's next seq; a client_id repeated
// within the batch returns the original (its id and seq) without using up
// a seq; what the store returns is what it stored.
func TestAppendsInOneBatch(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "b.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	release, started := make(chan struct{}), make(chan struct{})
	held := s.queue(ctx, func(context.Context, *sql.Tx) error { close(started); <-release; return nil })
	<-started // the writer is busy: what follows is queued for one batch
	t0 := time.UnixMilli(1_700_000_000_123).UTC()
	msgs := []parley.Message{
		{Room: "lobby", From: "Alice", Text: "one", HTML: "<p>one</p>", Mentions: []string{"bob"}, ClientID: "c1", CreatedAt: t0},
		{Room: "lobby", From: "alice", Text: "one again", HTML: "x", ClientID: "c1", CreatedAt: t0},
		{Room: "other", From: "Bob", To: "", Text: "two", HTML: "<p>two</p>", CreatedAt: t0},
		{Room: "lobby", From: "Bob", Text: "three", HTML: "<p>three</p>", ClientID: "c1", CreatedAt: t0},
	}
	var waits []func() (parley.Message, bool, error)
	for _, m := range msgs {
		waits = append(waits, s.QueueAppend(ctx, m))
	}
	close(release)
	if err := held(); err != nil {
		t.Fatal(err)
	}
	var got []parley.Message
	for i, w := range waits {
		m, dup, err := w()
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if dup != (i == 1) {
			t.Errorf("append %d: dup %v", i, dup)
		}
		got = append(got, m)
	}
	want := []struct {
		seq  int64
		text string
	}{{1, "one"}, {1, "one"}, {1, "two"}, {2, "three"}}
	for i, w := range want {
		if m := got[i]; m.Seq != w.seq || m.Text != w.text || !m.CreatedAt.Equal(t0) {
			t.Errorf("append %d = seq %d %q at %v; want seq %d %q at %v", i, m.Seq, m.Text, m.CreatedAt, w.seq, w.text, t0)
		}
	}
	// Ids grow and are never reused (not gap-free: a duplicate's insert
	// that did nothing may have used one up, as it always has).
	if got[0].ID < 1 || got[1].ID != got[0].ID || got[2].ID <= got[0].ID || got[3].ID <= got[2].ID {
		t.Errorf("ids %d %d %d %d; want growing, the duplicate's the original's", got[0].ID, got[1].ID, got[2].ID, got[3].ID)
	}
	h, err := s.History(ctx, "lobby", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].ID != got[0].ID || h[0].From != "Alice" || len(h[0].Mentions) != 1 || h[1].ID != got[3].ID || h[1].Seq != 2 {
		t.Errorf("lobby history = %+v; want one (mentioning bob) and three", h)
	}
	if r, err := s.EnsureRoom(ctx, "lobby"); err != nil || r.LastSeq != 2 {
		t.Errorf("lobby = %+v, %v; want last seq 2 saved", r, err)
	}
}
