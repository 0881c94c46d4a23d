package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/postgres"
	"github.com/parley-chat/parley/internal/storetest"
	"github.com/parley-chat/parley/internal/testsrv"
)

var ctx = context.Background()

// cluster is one PostgreSQL server of a top-level test, with a database
// per store directory of the storetest suite.
type cluster struct {
	srv *testsrv.Server

	mu  sync.Mutex
	dbs map[string]string // storetest dir → database URL
	n   int
}

// newCluster starts PostgreSQL for t (about a second; skipped without
// PostgreSQL, failed in CI).
func newCluster(t *testing.T) *cluster {
	t.Helper()
	return &cluster{srv: testsrv.Postgres(t), dbs: map[string]string{}}
}

// newDB creates an empty database and returns its URL.
func (c *cluster) newDB(t testing.TB) string {
	t.Helper()
	c.mu.Lock()
	c.n++
	name := fmt.Sprintf("t%d", c.n)
	c.mu.Unlock()
	conn, err := pgx.Connect(ctx, c.srv.URL)
	if err != nil {
		t.Fatalf("connect to %s: %v", c.srv.URL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	u, err := url.Parse(c.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// open is the storetest Opener: the same dir reopens the same database.
func (c *cluster) open(t *testing.T, dir string) parley.Store {
	t.Helper()
	c.mu.Lock()
	db, ok := c.dbs[dir]
	c.mu.Unlock()
	if !ok {
		db = c.newDB(t)
		c.mu.Lock()
		c.dbs[dir] = db
		c.mu.Unlock()
	}
	return mustOpen(t, db)
}

func mustOpen(t testing.TB, db string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(ctx, db, postgres.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	c := newCluster(t)
	storetest.Run(t, c.open)
}

// Two stores on one database stand for two nodes: their writers to the
// same rooms get gap-free seqs, and a client_id sent through both at once
// is stored once.
func TestTwoNodesShareSequences(t *testing.T) {
	c := newCluster(t)
	db := c.newDB(t)
	nodes := []*postgres.Store{mustOpen(t, db), mustOpen(t, db)}
	for _, s := range nodes {
		t.Cleanup(func() { _ = s.Close() })
	}
	const writers, each, pairs = 8, 25, 40 // writers per node
	rooms := []string{"r0", "r1", "r2"}

	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*each+2*pairs)
	for n, s := range nodes {
		for w := range writers {
			wg.Go(func() {
				// Half the writers queue all their messages at once (a
				// pipelining connection: the store's batches), half append
				// one at a time.
				var waits []func() (parley.Message, bool, error)
				for i := range each {
					m := parley.Message{Room: rooms[(w+i)%3], From: fmt.Sprintf("n%dw%d", n, w), Text: "x", HTML: "x",
						ClientID: fmt.Sprint(i), CreatedAt: storetest.T0}
					if w%2 == 0 {
						waits = append(waits, s.QueueAppend(ctx, m))
					} else if _, dup, err := s.Append(ctx, m); err != nil || dup {
						errs <- fmt.Errorf("node %d writer %d: Append = dup %v, %v", n, w, dup, err)
					}
				}
				for _, wait := range waits {
					if _, dup, err := wait(); err != nil || dup {
						errs <- fmt.Errorf("node %d writer %d: QueueAppend = dup %v, %v", n, w, dup, err)
					}
				}
			})
		}
	}
	// Meanwhile the same message (sender, client_id) goes through both
	// nodes at once, pairs times.
	type result struct {
		m   parley.Message
		dup bool
	}
	results := make([][2]result, pairs)
	for p := range pairs {
		start := make(chan struct{})
		for n, s := range nodes {
			wg.Go(func() {
				<-start
				m := parley.Message{Room: rooms[p%3], From: "twice", Text: fmt.Sprint("pair ", p), HTML: "x",
					ClientID: fmt.Sprint("same-", p), CreatedAt: storetest.T0}
				var got parley.Message
				var dup bool
				var err error
				if n == 0 { // one node's writer batch against the other's Append
					got, dup, err = s.QueueAppend(ctx, m)()
				} else {
					got, dup, err = s.Append(ctx, m)
				}
				if err != nil {
					errs <- fmt.Errorf("pair %d node %d: %v", p, n, err)
				}
				results[p][n] = result{got, dup}
			})
		}
		close(start)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for p, r := range results {
		a, b := r[0], r[1]
		if a.dup == b.dup {
			t.Errorf("pair %d: dup = %v and %v; want exactly one duplicate", p, a.dup, b.dup)
		}
		if a.m.ID != b.m.ID || a.m.Seq != b.m.Seq || a.m.Text != b.m.Text || a.m.ID == 0 {
			t.Errorf("pair %d: %+v and %+v; want the same stored message", p, a.m, b.m)
		}
	}
	total := 0
	for _, room := range rooms {
		msgs := storetest.MustHistory(t, nodes[0], room, 0, 10_000)
		total += len(msgs)
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("room %s: message %d has Seq %d; want %d (gap-free, no duplicates)", room, i, m.Seq, i+1)
			}
			if i > 0 && m.ID <= msgs[i-1].ID {
				t.Errorf("room %s: seq %d has ID %d, not above seq %d's %d", room, m.Seq, m.ID, msgs[i-1].Seq, msgs[i-1].ID)
			}
		}
		r, err := nodes[1].EnsureRoom(ctx, room)
		if err != nil || r.LastSeq != int64(len(msgs)) {
			t.Errorf("EnsureRoom(%s) = %+v, %v; want LastSeq %d", room, r, err, len(msgs))
		}
	}
	if want := 2*writers*each + pairs; total != want {
		t.Errorf("stored %d messages; want %d", total, want)
	}
}

// A reader that follows a user's direct messages with DirectSince and a
// cursor (the largest ID it got) misses none, although they are written
// concurrently on two nodes in several conversations — so in transactions
// that take their IDs in one order and could commit in another. A trigger
// makes each direct message's transaction sleep after its insert, to widen
// the window in which a smaller ID is not yet committed.
func TestDirectSinceCursorMissesNothing(t *testing.T) {
	t.Run("Append", func(t *testing.T) { testDirectSinceCursor(t, false) })
	// Queued: the writers' batches mix conversations and take many
	// people's locks at once.
	t.Run("QueueAppend", func(t *testing.T) { testDirectSinceCursor(t, true) })
}

func testDirectSinceCursor(t *testing.T, queued bool) {
	c := newCluster(t)
	db := c.newDB(t)
	nodes := []*postgres.Store{mustOpen(t, db), mustOpen(t, db)}
	for _, s := range nodes {
		t.Cleanup(func() { _ = s.Close() })
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `
		CREATE FUNCTION slow_dm() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.recipient_key <> '' THEN PERFORM pg_sleep(random() * 0.004); END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER slow_dm AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION slow_dm();`); err != nil {
		t.Fatal(err)
	}

	const senders, each = 6, 15
	var (
		wg   sync.WaitGroup
		sent sync.Map // ID → text, of the messages to bob
		done atomic.Bool
		errs = make(chan error, senders)
	)
	for i := range senders {
		from := fmt.Sprint("p", i)
		s := nodes[i%2]
		other := nodes[(i+1)%2]
		wg.Go(func() {
			var toBob []func() (parley.Message, bool, error)
			for k := range each {
				// To bob, and (not for bob's reader) from bob to the
				// same person, in the same conversation.
				m := parley.Message{Room: parley.DMKey(from, "bob"), From: from, To: "Bob", Text: fmt.Sprint(from, "-", k), HTML: "x", CreatedAt: storetest.T0}
				back := parley.Message{Room: parley.DMKey(from, "bob"), From: "bob", To: from, Text: "back", HTML: "x", CreatedAt: storetest.T0}
				if queued { // wait at the end
					// Both on one node: the two nodes' batches share no
					// conversation, so no row lock orders them — only the
					// people's locks.
					toBob = append(toBob, s.QueueAppend(ctx, m))
					s.QueueAppend(ctx, back)
					continue
				}
				got, _, err := s.Append(ctx, m)
				if err != nil {
					errs <- err
					return
				}
				sent.Store(got.ID, got.Text)
				if _, _, err := other.Append(ctx, back); err != nil {
					errs <- err
					return
				}
			}
			for _, wait := range toBob {
				got, _, err := wait()
				if err != nil {
					errs <- err
					return
				}
				sent.Store(got.ID, got.Text)
			}
		})
	}
	seen := map[int64]int{}
	var cursor int64
	read := func() int {
		msgs, err := nodes[1].DirectSince(ctx, "bob", cursor, 7)
		if err != nil {
			t.Errorf("DirectSince(bob, %d): %v", cursor, err)
			done.Store(true)
			return 0
		}
		for _, m := range msgs {
			if m.To != "Bob" || m.ID <= cursor {
				t.Errorf("DirectSince(bob, %d) returned %+v", cursor, m)
			}
			seen[m.ID]++
			cursor = m.ID
		}
		return len(msgs)
	}
	reader := make(chan struct{})
	go func() {
		defer close(reader)
		for !done.Load() {
			read()
		}
	}()
	wg.Wait()
	done.Store(true)
	<-reader
	for read() > 0 {
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := 0
	sent.Range(func(id, text any) bool {
		n++
		if seen[id.(int64)] != 1 {
			t.Errorf("message %d (%s) to bob was read %d times; want once", id, text, seen[id.(int64)])
		}
		return true
	})
	if n != senders*each || len(seen) != n {
		t.Errorf("sent %d messages to bob, read %d; want %d", n, len(seen), senders*each)
	}
}

// With PostgreSQL killed or shut down, calls fail fast with unavailable;
// once it is back, the same store works again and seqs go on without a
// gap — also for messages whose Append was cut off and then resent.
func TestServerGoesAwayAndComesBack(t *testing.T) {
	c := newCluster(t)
	// testsrv runs PostgreSQL with synchronous_commit=off, which loses the
	// last commits when the server is killed; this test needs them kept.
	s := mustOpen(t, c.newDB(t)+"&synchronous_commit=on")
	t.Cleanup(func() { _ = s.Close() })

	n := 0 // messages stored in room "r"
	appendOK := func(what string) {
		t.Helper()
		n++
		m := storetest.MustAppend(t, s, parley.Message{Room: "r", Text: fmt.Sprint(what, " ", n)})
		if m.Seq != int64(n) {
			t.Fatalf("%s: Seq = %d; want %d", what, m.Seq, n)
		}
	}
	unavailable := func(what string) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		start := time.Now()
		_, _, err := s.Append(cctx, parley.Message{Room: "r", From: "a", Text: "lost", HTML: "x", CreatedAt: storetest.T0})
		took := time.Since(start)
		if parley.ErrorCode(err) != parley.EUnavailable || parley.ErrorRetryAfter(err) != time.Second {
			t.Errorf("%s: Append = %v (code %q, retry after %v); want unavailable, retry after 1s",
				what, err, parley.ErrorCode(err), parley.ErrorRetryAfter(err))
		}
		if took > 5*time.Second {
			t.Errorf("%s: Append took %v; want < 5s", what, took)
		}
		if _, err := s.History(cctx, "r", 0, 10); parley.ErrorCode(err) != parley.EUnavailable {
			t.Errorf("%s: History = %v; want unavailable", what, err)
		}
		t.Logf("%s: %v after %v", what, err, took.Round(time.Millisecond))
	}

	appendOK("before")
	appendOK("before")
	c.srv.Kill()
	unavailable("killed")
	c.srv.Start()
	appendOK("after kill")

	c.srv.Stop()
	unavailable("shut down")
	c.srv.Start()
	appendOK("after shutdown")

	// Writers that resend (same client_id) until stored, while the server
	// is killed under them and started again.
	const writers = 4
	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		stored   atomic.Int64
		failures atomic.Int64
	)
	for w := range writers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				m := parley.Message{Room: "r", From: fmt.Sprint("w", w), Text: "x", HTML: "x", ClientID: fmt.Sprint(i), CreatedAt: storetest.T0}
				for deadline := time.Now().Add(30 * time.Second); ; {
					cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
					_, _, err := s.Append(cctx, m)
					cancel()
					if err == nil {
						stored.Add(1)
						break
					}
					failures.Add(1)
					if code := parley.ErrorCode(err); code != parley.EUnavailable || time.Now().After(deadline) {
						t.Errorf("writer %d message %d: %v (code %s)", w, i, err, code)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	c.srv.Kill()
	time.Sleep(300 * time.Millisecond)
	c.srv.Start()
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d messages stored, %d failed attempts while the server was away", stored.Load(), failures.Load())
	if failures.Load() == 0 {
		t.Error("no Append failed while the server was away")
	}
	n += int(stored.Load())
	msgs := storetest.MustHistory(t, s, "r", 0, 100_000)
	if len(msgs) != n {
		t.Errorf("room r holds %d messages; want %d", len(msgs), n)
	}
	ids := map[string]bool{}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has Seq %d; want %d (gap-free)", i, m.Seq, i+1)
		}
		if m.ClientID != "" {
			k := m.From + "/" + m.ClientID
			if ids[k] {
				t.Errorf("client_id %s stored twice", k)
			}
			ids[k] = true
		}
	}
	appendOK("at the end")
}

// A call that the server keeps waiting (here for a table lock) returns
// when its context ends, as unavailable; the Append may still be committed
// by the server afterwards, and resending it with its client_id stores it
// once, at the next seq.
func TestBlockedCallsEndWithTheirContext(t *testing.T) {
	c := newCluster(t)
	db := c.newDB(t)
	s := mustOpen(t, db)
	t.Cleanup(func() { _ = s.Close() })
	storetest.MustAppend(t, s, parley.Message{Room: "r", Text: "first"})

	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE messages IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	m := parley.Message{Room: "r", From: "alice", Text: "blocked", HTML: "x", ClientID: "b1", CreatedAt: storetest.T0}
	for name, call := range map[string]func(context.Context) error{
		"Append":  func(c context.Context) error { _, _, err := s.Append(c, m); return err },
		"History": func(c context.Context) error { _, err := s.History(c, "r", 0, 10); return err },
	} {
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		start := time.Now()
		err := call(cctx)
		took := time.Since(start)
		cancel()
		if parley.ErrorCode(err) != parley.EUnavailable || !errors.Is(err, context.DeadlineExceeded) || took > 2*time.Second {
			t.Errorf("%s while the table is locked = %v after %v; want unavailable (deadline exceeded) after 0.5s", name, err, took)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Append(ctx, m)
	if err != nil || got.Seq != 2 || got.Text != "blocked" {
		t.Errorf("resent Append = %+v, %v; want seq 2", got, err)
	}
	if next := storetest.MustAppend(t, s, parley.Message{Room: "r", Text: "next"}); next.Seq != 3 {
		t.Errorf("next Seq = %d; want 3", next.Seq)
	}
}

// Stores opening an empty database at the same time apply the migrations
// once (under the advisory lock), and all of them work.
func TestMigrationsOnceWhenNodesStartTogether(t *testing.T) {
	c := newCluster(t)
	db := c.newDB(t)
	const nodes = 4
	stores := make([]*postgres.Store, nodes)
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(ctx, db, postgres.Options{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	for i, s := range stores {
		if m := storetest.MustAppend(t, s, parley.Message{Room: parley.Lobby, Text: fmt.Sprint(i)}); m.Seq != int64(i+1) {
			t.Errorf("store %d: Seq = %d; want %d", i, m.Seq, i+1)
		}
	}
	again := mustOpen(t, db)
	defer again.Close()
	if rooms, err := again.Rooms(ctx); err != nil || len(rooms) != 1 || rooms[0].Name != parley.Lobby || rooms[0].LastSeq != nodes {
		t.Errorf("Rooms = %+v, %v; want the lobby once, at seq %d", rooms, err, nodes)
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var count, max int
	if err := conn.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&count, &max); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	if want := len(files); count != want || max != want {
		t.Errorf("schema_migrations: %d rows, version %d; want %d, %[3]d: each migration once", count, max, want)
	}
	// A database from a newer program is refused, not used.
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (99, 'future.sql')`); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(ctx, db, postgres.Options{}); err == nil {
		s.Close()
		t.Error("Open of a database at a newer schema version succeeded")
	}
}

// Without a server, Open fails fast with unavailable; a cancelled context
// ends it at once.
func TestOpenUnreachable(t *testing.T) {
	db := fmt.Sprintf("postgres://parley@127.0.0.1:%d/parley?sslmode=disable", testsrv.FreePort(t))
	c, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	start := time.Now()
	s, err := postgres.Open(c, db, postgres.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open without a server succeeded")
	}
	if took := time.Since(start); parley.ErrorCode(err) != parley.EUnavailable || took > 3*time.Second {
		t.Errorf("Open = %v after %v; want unavailable within 3s", err, took)
	}
	c, cancel = context.WithCancel(ctx)
	cancel()
	if _, err := postgres.Open(c, db, postgres.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context = %v; want context.Canceled", err)
	}
	if _, err := postgres.Open(ctx, "postgres://[::1", postgres.Options{}); err == nil {
		t.Error("Open of a bad URL succeeded")
	}
}

// A database that stops answering (SIGSTOP) does not make queued sends
// pile up: once the writer's queue is full, the next send is refused
// within about 100 ms with unavailable and a retry-after hint, and when
// the database answers again every send that was taken is stored, in
// order.
func TestAStuckDatabaseRefusesQueuedSendsAtOnce(t *testing.T) {
	c := newCluster(t)
	s := mustOpen(t, c.newDB(t))
	t.Cleanup(func() { _ = s.Close() })
	storetest.MustAppend(t, s, parley.Message{Room: "lobby", Text: "before"}) // a connection in the pool
	c.srv.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			c.srv.Thaw()
		}
	}()
	var waits []func() (parley.Message, bool, error)
	var refused error
	for i := range 4000 {
		start := time.Now()
		wait := s.QueueAppend(ctx, parley.Message{Room: "lobby", From: "bot", Text: fmt.Sprint(i), HTML: "x", CreatedAt: storetest.T0})
		if took := time.Since(start); took >= 50*time.Millisecond {
			_, _, refused = wait()
			if took > time.Second {
				t.Errorf("refused after %v; want about 100 ms", took)
			}
			break
		}
		waits = append(waits, wait)
	}
	if parley.ErrorCode(refused) != parley.EUnavailable || parley.ErrorRetryAfter(refused) <= 0 {
		t.Fatalf("a send into a full queue, %d taken: %v; want unavailable with a retry-after", len(waits), refused)
	}
	c.srv.Thaw()
	thawed = true
	for i, wait := range waits {
		m, _, err := wait()
		if err != nil {
			t.Fatalf("taken send %d after the database came back: %v", i, err)
		}
		if m.Seq != int64(i+2) {
			t.Fatalf("taken send %d: seq %d; want %d", i, m.Seq, i+2)
		}
	}
}
