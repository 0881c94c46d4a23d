package postgres_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/storetest"
)

// A database made by the first version of the schema (0001 only, with a
// user, messages and an announcement in it) is upgraded by Open: the old
// rows read as before with the new fields at their defaults (an
// announcement starts when it was created), and the new methods work.
func TestOpenUpgradesAVersion1Database(t *testing.T) {
	c := newCluster(t)
	db := c.newDB(t)
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// As migrate did when 0001 was the only migration.
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now());
		INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init.sql');`+string(v1)); err != nil {
		t.Fatal(err)
	}
	t0 := storetest.T0
	for _, q := range []string{
		`INSERT INTO users (nick_key, nickname, token_hash, claimed_at, last_seen, dm_cursor) VALUES ('alice', 'Alice', 'tok', $1, $1, 0)`,
		`INSERT INTO messages (room, seq, sender, sender_key, text, html, mentions, client_id, created_at) VALUES ('lobby', 1, 'Alice', 'alice', 'hi', '<p>hi</p>', '{bob}', 'c1', $1)`,
		`INSERT INTO messages (room, seq, sender, sender_key, text, html, created_at) VALUES ('lobby', 2, 'Alice', 'alice', 'two', '<p>two</p>', $1)`,
		`UPDATE rooms SET last_seq = 2 WHERE name = 'lobby' AND $1::timestamptz IS NOT NULL`,
		`INSERT INTO announcements (text, html, created_at, expires_at) VALUES ('old', '<p>old</p>', $1::timestamptz, $1::timestamptz + interval '1 hour')`,
	} {
		if _, err := conn.Exec(ctx, q, t0); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	s := mustOpen(t, db)
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
	a, err := s.Announcements(ctx, t0)
	if err != nil || len(a) != 1 || !a[0].StartsAt.Equal(t0) || a[0].By != "" {
		t.Errorf("the old announcement = %+v, %v; want it, starting when it was created", a, err)
	}
	if m := storetest.MustAppend(t, s, parley.Message{Room: "lobby", Text: "three"}); m.Seq != 3 {
		t.Errorf("a new message: Seq %d; want 3", m.Seq)
	}
	if _, dup, err := s.Append(ctx, parley.Message{Room: "lobby", From: "alice", Text: "again", HTML: "x", ClientID: "c1", CreatedAt: t0}); err != nil || !dup {
		t.Errorf("an old client_id: dup %v, %v; want dup", dup, err)
	}
	if tomb, err := s.DeleteMessage(ctx, "lobby", 1, "mod"); err != nil || !tomb.Deleted {
		t.Errorf("DeleteMessage of an old message = %+v, %v", tomb, err)
	}
	if u, err := s.SetPassword(ctx, "alice", "h", t0.Add(time.Minute)); err != nil || !u.Registered {
		t.Errorf("SetPassword of the old user = %+v, %v", u, err)
	}
	if _, err := s.SetSlowMode(ctx, "lobby", time.Second); err != nil {
		t.Error(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	var version int
	if err := conn.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil || version != len(files) {
		t.Errorf("schema version = %d, %v; want %d, one per migration", version, err, len(files))
	}
}
