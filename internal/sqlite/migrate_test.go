package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/sqlite"
	"github.com/parley-chat/parley/internal/storetest"
)

// A database made by the first version of the schema (0001 only, with a
// user, messages and an announcement in it) is upgraded by Open: the old
// rows read as before with the new fields at their defaults (an
// announcement starts when it was created), and the new methods work.
func TestOpenUpgradesAVersion1Database(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := storetest.T0.UnixMilli()
	for _, q := range []string{
		string(v1),
		`PRAGMA user_version = 1`,
		`INSERT INTO users (nick_key, nickname, token_hash, claimed_at, last_seen, dm_cursor) VALUES ('alice', 'Alice', 'tok', ?1, ?1, 0)`,
		`INSERT INTO messages (room, seq, sender, sender_key, text, html, mentions, client_id, created_at) VALUES ('lobby', 1, 'Alice', 'alice', 'hi', '<p>hi</p>', '["bob"]', 'c1', ?1)`,
		`INSERT INTO messages (room, seq, sender, sender_key, text, html, created_at) VALUES ('lobby', 2, 'Alice', 'alice', 'two', '<p>two</p>', ?1)`,
		`UPDATE rooms SET last_seq = 2 WHERE name = 'lobby'`,
		`INSERT INTO announcements (text, html, created_at, expires_at) VALUES ('old', '<p>old</p>', ?1, ?1 + 3600000)`,
	} {
		if _, err := db.ExecContext(ctx, q, t0); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open of a version 1 database: %v", err)
	}
	defer s.Close()
	if u, err := s.UserByToken(ctx, "tok"); err != nil || u.Nickname != "Alice" || u.Registered || u.Role != parley.RoleUser || u.LastIP != "" {
		t.Errorf("the old user = %+v, %v; want Alice, a guest", u, err)
	}
	h := storetest.MustHistory(t, s, "lobby", 0, 10)
	if len(h) != 2 || h[0].Text != "hi" || h[0].Deleted || h[0].DeletedBy != "" || len(h[0].Mentions) != 1 {
		t.Errorf("the old messages = %+v; want hi, two, not deleted", h)
	}
	if r, err := s.EnsureRoom(ctx, "lobby"); err != nil || r.SlowMode != 0 || r.LastSeq != 2 {
		t.Errorf("the lobby = %+v, %v; want seq 2, no slow mode", r, err)
	}
	a, err := s.Announcements(ctx, storetest.T0)
	if err != nil || len(a) != 1 || !a[0].StartsAt.Equal(storetest.T0) || a[0].By != "" {
		t.Errorf("the old announcement = %+v, %v; want it, starting when it was created", a, err)
	}
	if m := storetest.MustAppend(t, s, parley.Message{Room: "lobby", Text: "three"}); m.Seq != 3 {
		t.Errorf("a new message: Seq %d; want 3", m.Seq)
	}
	if _, dup, err := s.Append(ctx, parley.Message{Room: "lobby", From: "alice", Text: "again", HTML: "x", ClientID: "c1", CreatedAt: storetest.T0}); err != nil || !dup {
		t.Errorf("an old client_id: dup %v, %v; want dup", dup, err)
	}
	if tomb, err := s.DeleteMessage(ctx, "lobby", 1, "mod"); err != nil || !tomb.Deleted {
		t.Errorf("DeleteMessage of an old message = %+v, %v", tomb, err)
	}
	if u, err := s.SetPassword(ctx, "alice", "h", storetest.T0.Add(time.Minute)); err != nil || !u.Registered {
		t.Errorf("SetPassword of the old user = %+v, %v", u, err)
	}
	if _, err := s.SetSlowMode(ctx, "lobby", time.Second); err != nil {
		t.Error(err)
	}
	db, err = sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	files, _ := filepath.Glob("migrations/*.sql")
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil || version != len(files) {
		t.Errorf("user_version = %d, %v; want %d, one per migration", version, err, len(files))
	}
}

// A database a newer program has upgraded is refused, not used: this
// program does not know what its schema means.
func TestOpenRefusesANewerDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "newer.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := sqlite.Open(ctx, path, sqlite.Options{}); err == nil {
		s.Close()
		t.Fatal("Open of a database at schema version 99 succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a database at schema version 99: %v; want it called newer", err)
	}
}
