// Package postgres is the parley.Store on PostgreSQL (pgx v5, pgxpool), for
// servers of several nodes sharing one database. It owns the database's
// schema — the tables rooms, messages, users, sessions, api_keys, bans,
// mutes, actions, announcements and schema_migrations, created and
// upgraded by Open from the embedded migrations — and everything read from
// or written to it; other packages
// see only parley types.
//
// # Data model
//
// rooms has one row per room and per direct conversation ("dm:a:b"), with
// last_seq, the seq of its newest message; the lobby row is created by the
// first migration. messages holds room and direct messages alike, unique
// by (room, seq) and, where client_id is not empty, by (sender_key,
// client_id). users holds one row per nickname (keyed by NickKey) with the
// SHA-256 of its holder's token; a registered user also has a password
// hash, a role and no claim token any more (token_hash '!' || nick_key,
// which no SHA-256 in hex equals), and logs in with sessions (the SHA-256
// of each login token). A deleted message keeps its row as a tombstone
// (deleted, deleted_by; text, html and mentions emptied). bans, mutes
// (one per room and person), api_keys and actions (the moderation log)
// are what their names say, and announcements the administrators'
// notices, each shown from starts_at until expires_at. An optional time
// (a ban or mute forever, a key not revoked) is NULL. Names that are
// compared or sorted use the "C" collation (byte order, as in SQLite) and
// times are timestamptz, cut to whole milliseconds before they are written
// and returned in UTC.
//
// # Sequence numbers and IDs
//
// Append is one statement, hence one transaction, that takes the room's
// next seq by upserting its rooms row (INSERT … ON CONFLICT DO UPDATE SET
// last_seq = last_seq + 1 RETURNING last_seq) and inserts the message with
// it. The row lock that the update takes is held until the commit, so the
// writers of one room — on any number of nodes — take their seqs one after
// another, and commit in seq order: seqs are gap-free and become visible in
// order. A resent client_id is found by the same statement, which then
// updates nothing; two nodes racing with the same client_id meet on the
// unique index, and the statement of the second fails as a whole (the
// seq it took is rolled back with it) and returns the first's message.
//
// QueueAppend (pipeline.go) stores queued messages a batch per
// transaction: the same locks — the advisory locks of the direct
// messages' people (below), in key order, then the rows, a block of seqs
// per conversation at once, in name order.
//
// Message IDs come from an identity sequence. Sequence numbers are handed
// out in increasing order, but transactions commit in their own order, so
// an ID can become visible after a larger one. Within a room that cannot
// happen (the room's row lock is taken before the ID). Across rooms it
// could, and DirectSince, whose cursor is "ID > afterID", must not miss a
// message because a smaller ID committed late: the cursor is the largest ID
// of the direct messages the user's sessions were given, sent or received.
// So a direct message first takes a transaction-scoped advisory lock for
// each of its two people (in a fixed order) and only then its ID: the
// direct messages of one person are numbered and committed one after
// another, and when one of them is visible every one with a smaller ID is
// too. ClaimNickname takes the same lock before it reads the newest ID.
// Room messages take no such lock; nothing pages them by ID. The lock of a
// person is a hash of the nickname key: two people with the same hash share
// a lock, which only makes their messages wait for each other. The
// sequence must keep CACHE 1 (the default): with a cache, sessions would
// hand out numbers from ranges of their own, out of order.
//
// Every statement is prepared (pgx's statement cache) and takes its values
// as parameters. Locks are transaction-scoped and every write is one
// transaction, so nothing needs a session of its own: the behaviour suite
// also passes with default_query_exec_mode=simple_protocol in the URL, the
// mode a pooler in transaction mode (PgBouncer) needs; no pooler is tested.
//
// # Errors
//
// Every method returns a *parley.Error for the outcomes the contract names:
// ENotFound (a user, session, key, ban, mute, room, message or
// announcement that is not there), EInvalid (SetRole of a guest, a role,
// slow mode or password hash that cannot be) and ENicknameTaken
// (ClaimNickname). When PostgreSQL cannot be reached or is going away — a
// refused or broken connection, an administrator's shutdown, a server
// starting or out of connections, the caller's deadline passed while
// waiting for it, a serialization failure, a deadlock, a read-only standby
// — the error wraps &parley.Error{Code: EUnavailable, RetryAfter:
// time.Second} and then the cause. A lost connection also drops the pool's
// other connections, which are most likely broken too, and a call that may
// be repeated runs once more on a new connection — every one but those
// that add a row with a new ID (Append, AddAnnouncement, AddAPIKey, AddBan,
// LogAction) and those a second run would answer differently (DeleteBan,
// DeleteMute, DeleteAnnouncement); pgxpool connects again on later calls, so the store
// works again by itself once the server is back. A closed Store answers
// EUnavailable. A cancelled context comes back as the context's error;
// anything else is wrapped with what the store was doing (EInternal for a
// client).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ parley.Store = (*Store)(nil)

// Options tunes a Store. Zero values mean the documented defaults; settings
// in the URL (pool_max_conns, connect_timeout, …) are kept unless an
// option overrides them.
type Options struct {
	// MaxConns is the most connections the Store opens; default: the
	// URL's pool_max_conns, or pgxpool's default (4, or the number of
	// CPUs if larger).
	MaxConns int32
	// ConnectTimeout bounds each connection attempt, and so how long a
	// call waits for a server that does not answer; default: the URL's
	// connect_timeout, or 5 s.
	ConnectTimeout time.Duration
}

// DefaultConnectTimeout is the ConnectTimeout when neither Options nor the
// URL sets one.
const DefaultConnectTimeout = 5 * time.Second

// retryAfter is the RetryAfter of EUnavailable errors.
const retryAfter = time.Second

// Store is a parley.Store on PostgreSQL. Create it with Open; Close it.
// Several Stores, in one process or on several nodes, may share a
// database.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool

	// The writer of queued appends (pipeline.go): reqs is its queue,
	// closed by Close under queueMu once closed is set; writerDone is
	// closed when the writer has drained it and ended.
	reqs       chan *appendReq
	queueMu    sync.RWMutex
	writerDone chan struct{}
}

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string, as pgx reads them), checks that it answers and
// applies the migrations it has not seen, under an advisory lock so that
// nodes starting together apply each once. It fails with an error that
// wraps EUnavailable if the server cannot be reached within the connect
// timeout or before ctx ends.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	} else if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "parley" // in pg_stat_activity
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	s := &Store{pool: pool}
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnConfig.ConnectTimeout)
	err = pool.Ping(pctx)
	cancel()
	if err == nil {
		err = migrate(ctx, pool)
	}
	if err != nil {
		pool.Close()
		return nil, s.wrap(err, "open "+where)
	}
	s.reqs, s.writerDone = make(chan *appendReq, 4*maxBatch), make(chan struct{})
	go s.writer()
	return s, nil
}

// Ping reports whether the database answers: one round trip on a pooled
// connection, within ctx (readiness checks).
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return errors.New("postgres: store closed")
	}
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close stores what is queued (QueueAppend), waits for the calls in
// progress to return their connections, then closes them. Calls after
// Close fail with EUnavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.queueMu.Lock()
	close(s.reqs)
	s.queueMu.Unlock()
	<-s.writerDone
	s.pool.Close()
	return nil
}

// Advisory locks. The migration lock uses the one-bigint key space, the
// per-person locks of direct messages the two-int4 one: they never meet.
const (
	migrateLockKey  = int64(0x7061726c65790001) // "parley" + 1
	personLockSpace = int32(0x70726c79)         // "prly"
)

// personLock is the advisory lock key of the person with nickname key k.
func personLock(k string) int32 {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(k); i++ {
		h ^= uint32(k[i])
		h *= 16777619
	}
	return int32(h)
}

// migrate applies, in order and each once, the embedded migrations that
// schema_migrations does not list, all in one transaction that holds the
// migration lock: a node that starts while another migrates waits, then
// finds the work done.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var version int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
			return fmt.Errorf("read the schema version: %w", err)
		}
		if version > len(names) {
			return fmt.Errorf("the database's schema is at version %d, newer than this program's %d; run a newer parley", version, len(names))
		}
		for i := version; i < len(names); i++ {
			body, err := migrations.ReadFile(names[i])
			if err != nil {
				return err
			}
			// No arguments: the simple protocol, which runs every
			// statement of the file.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", names[i], err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`,
				i+1, strings.TrimPrefix(names[i], "migrations/")); err != nil {
				return fmt.Errorf("migration %s: %w", names[i], err)
			}
		}
		return nil
	})
}

var errClosed = &parley.Error{Code: parley.EUnavailable, Message: "the store is closed"}

// unavailableErr is the *parley.Error inside every EUnavailable error.
func unavailableErr() *parley.Error {
	return &parley.Error{Code: parley.EUnavailable, Message: "the database is unavailable; retry shortly", RetryAfter: retryAfter}
}

// wrap turns an error of pgx into the store's: a *parley.Error is returned
// as it is, a closed store's error is errClosed, an unavailable server's
// wraps EUnavailable and the cause, and anything else is wrapped with what.
func (s *Store) wrap(err error, what string) error {
	var pe *parley.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return err
	case s.closed.Load():
		return errClosed
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("postgres: %s: %w", what, err)
	case s.lost(err), unavailable(err):
		return fmt.Errorf("postgres: %s: %w: %w", what, unavailableErr(), err)
	default:
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
}

// do runs fn, an idempotent call; if fn found its connection broken (the
// server restarted, say), the pool's connections are dropped and fn runs
// once more, on a new connection. A connection that could not be made is
// not tried again at once. Append, whose outcome is not known when its
// connection breaks, is not retried: its caller resends it with the same
// client_id.
func (s *Store) do(ctx context.Context, fn func() error) error {
	err := fn()
	var connectErr *pgconn.ConnectError
	if err != nil && s.lost(err) && !errors.As(err, &connectErr) && ctx.Err() == nil && !s.closed.Load() {
		err = fn()
	}
	return err
}

// lost reports whether err says that a connection to the server broke or
// could not be made, and if so drops the pool's idle connections (and
// those in use, when they come back): they are most likely broken too,
// and each would fail one more call.
func (s *Store) lost(err error) bool {
	if !lostConn(err) {
		return false
	}
	s.pool.Reset()
	return true
}

// lostConn reports whether err says that the connection broke, the server
// went away or could not be reached.
func lostConn(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03"
	}
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// unavailable reports whether err says that the server cannot be reached
// or cannot serve now, so that the same call may succeed later.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case strings.HasPrefix(code, "08"), // connection exception
			strings.HasPrefix(code, "53"), // insufficient resources: too many connections, disk full
			code == "57P01",               // admin_shutdown
			code == "57P02",               // crash_shutdown
			code == "57P03",               // cannot_connect_now: starting up, shutting down
			code == "40001",               // serialization_failure
			code == "40P01",               // deadlock_detected
			code == "25006":               // read_only_sql_transaction: a standby after a failover
			return true
		}
		return false // the server answered: a bug, a constraint, bad credentials
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) ||
		pgconn.SafeToRetry(err)
}

// ms cuts t to whole milliseconds in UTC, as the store keeps times.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }
