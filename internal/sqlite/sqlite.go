// Package sqlite is the parley.Store on an embedded SQLite database
// (modernc.org/sqlite: pure Go, no cgo).
//
// All writes go through one goroutine that owns the only write connection
// and commits them in groups: it takes every write queued (up to
// Options.MaxBatch), runs them in one transaction and commits once, then
// answers each caller. Reads use a separate pool; in WAL mode they never
// wait for the writer.
//
// Durability: the database runs in WAL mode with synchronous=FULL by
// default, so a commit returns only after the WAL is fsynced — an
// acknowledged write survives a crash of the process and of the machine.
// With Options.Synchronous "NORMAL" the WAL is written (to the OS) at every
// commit but fsynced only at checkpoints: still safe when the process is
// killed (the OS has the data), not when the machine loses power.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/parley-chat/parley"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ parley.Store = (*Store)(nil)

// DefaultMaxBatch is the default of Options.MaxBatch. A commit writes
// every page it dirtied to the WAL — about one leaf page per room and per
// sender in the batch, however many of their messages it holds — so a
// writer that falls behind catches up faster the more it takes at once:
// at 20,000 messages/s from 200 senders in 100 rooms, batches of up to 256
// left it ever further behind (acks after seconds) where batches of up to
// 1,024 kept up (ack p99 ~100 ms; docs/PERFORMANCE.md). A writer that
// keeps up commits smaller batches anyway (writer.go).
const DefaultMaxBatch = 1024

// Options tunes a Store. Zero values mean the documented defaults.
type Options struct {
	Synchronous string // "FULL" (default) or "NORMAL"; see the package comment
	MaxBatch    int    // writes committed in one transaction at most; default 1024 (see DefaultMaxBatch)
	ReadConns   int    // read connections; default 4
}

// Store is a parley.Store on SQLite. Create it with Open; Close it.
type Store struct {
	read  *sql.DB
	write *sql.DB // one connection, used only by the writer goroutine
	opts  Options

	reqs       chan *writeReq
	ckpt       *sql.DB       // one connection, used only by the checkpointer (checkpoint.go)
	kicks      chan struct{} // commits → checkpointer
	ckptDone   chan struct{}
	mu         sync.RWMutex // guards closed against sends on reqs
	closed     bool
	writerDone chan struct{}
	refused    atomic.Int64 // writes refused because the queue stayed full

	// Statements of the append path, prepared once on the write
	// connection (parsing SQL was a tenth of the server's CPU at 1,000
	// messages a second): the rare ones through database/sql (used with
	// tx.StmtContext), the insert and the save of a room's seq on the
	// driver's connection directly (direct.go), which also pins the
	// writer's connection.
	findDup, lastSeq *sql.Stmt
	direct           *direct
	seqs             *seqs // the writer's
}

// Refused counts the writes refused with unavailable because the writer's
// queue stayed full (overload).
func (s *Store) Refused() int64 { return s.refused.Load() }

// Open opens (creating if needed) the database at path and applies the
// migrations it has not seen.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Synchronous == "" {
		opts.Synchronous = "FULL"
	}
	if s := strings.ToUpper(opts.Synchronous); s != "FULL" && s != "NORMAL" {
		return nil, fmt.Errorf("sqlite: synchronous %q: want FULL or NORMAL", opts.Synchronous)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	write, err := sql.Open("sqlite", dsn(path, opts, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	if err := migrate(ctx, write); err != nil {
		_ = write.Close()
		return nil, err
	}
	read, err := sql.Open("sqlite", dsn(path, opts, true))
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	read.SetMaxOpenConns(opts.ReadConns)
	read.SetMaxIdleConns(opts.ReadConns)
	ckpt, err := sql.Open("sqlite", dsn(path, opts, false))
	if err != nil {
		_ = write.Close()
		_ = read.Close()
		return nil, fmt.Errorf("sqlite: open %s for checkpoints: %w", path, err)
	}
	ckpt.SetMaxOpenConns(1)
	s := &Store{
		read: read, write: write, ckpt: ckpt, opts: opts,
		reqs:       make(chan *writeReq, 4*opts.MaxBatch),
		kicks:      make(chan struct{}, 1),
		ckptDone:   make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	for _, p := range []struct {
		st    **sql.Stmt
		query string
	}{{&s.findDup, findDupSQL}, {&s.lastSeq, lastSeqSQL}} {
		if *p.st, err = write.PrepareContext(ctx, p.query); err != nil {
			_ = write.Close()
			_ = read.Close()
			_ = ckpt.Close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
	}
	conn, err := write.Conn(ctx)
	if err == nil {
		s.direct, err = newDirect(ctx, conn)
	}
	if err != nil {
		_ = write.Close()
		_ = read.Close()
		_ = ckpt.Close()
		return nil, fmt.Errorf("sqlite: the writer's connection: %w", err)
	}
	s.seqs = newSeqs(s.lastSeq, s.direct.saveLastSeq)
	go s.writer()
	go s.checkpointer(ckpt, s.kicks, s.ckptDone)
	return s, nil
}

// dsn builds the connection string: WAL, a busy timeout, and for the read
// pool query_only so that a bug cannot write around the writer.
func dsn(path string, opts Options, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous("+strings.ToUpper(opts.Synchronous)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walBackstop)) // checkpoint.go
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// migrate applies, in order, every migration past PRAGMA user_version; a
// database at a version past them all (a newer program's) is refused.
func migrate(ctx context.Context, db *sql.DB) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if version > len(names) {
		return fmt.Errorf("sqlite: the database's schema is at version %d, newer than this program's %d; run a newer parley", version, len(names))
	}
	for i := version; i < len(names); i++ {
		body, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("sqlite: migration %s: %w", names[i], err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("sqlite: migration %s: %w", names[i], err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", names[i], err)
		}
	}
	return nil
}

// Close commits every write already queued, stops the writer and closes
// the database. Calls after Close fail with EUnavailable.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.writerDone
	close(s.kicks)
	<-s.ckptDone
	return errors.Join(s.findDup.Close(), s.lastSeq.Close(), s.direct.close(), s.write.Close(), s.read.Close(), s.ckpt.Close())
}

var errClosed = &parley.Error{Code: parley.EUnavailable, Message: "the store is closed"}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
