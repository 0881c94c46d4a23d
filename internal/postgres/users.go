package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
)

// EnsureRoom implements parley.Store. It reads first: most joins are to
// rooms that exist, and need no write.
func (s *Store) EnsureRoom(ctx context.Context, name string) (parley.Room, error) {
	if s.closed.Load() {
		return parley.Room{}, errClosed
	}
	const read = `SELECT ` + roomColumns + ` FROM rooms WHERE name = $1`
	var r parley.Room
	err := s.do(ctx, func() error {
		var err error
		r, err = scanRoom(s.pool.QueryRow(ctx, read, name))
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		r, err = scanRoom(s.pool.QueryRow(ctx,
			`INSERT INTO rooms (name, last_seq, created_at) VALUES ($1, 0, date_trunc('milliseconds', now()))
			 ON CONFLICT (name) DO NOTHING RETURNING `+roomColumns, name))
		if errors.Is(err, pgx.ErrNoRows) {
			// Created meanwhile by another call; this statement sees it.
			r, err = scanRoom(s.pool.QueryRow(ctx, read, name))
		}
		return err
	})
	return r, s.wrap(err, "ensure room "+name)
}

// roomColumns are the columns scanRoom reads.
const roomColumns = `name, last_seq, created_at, slow_mode_ms`

func scanRoom(row pgx.Row) (parley.Room, error) {
	var r parley.Room
	var slow int64
	err := row.Scan(&r.Name, &r.LastSeq, &r.CreatedAt, &slow)
	r.CreatedAt, r.SlowMode = r.CreatedAt.UTC(), time.Duration(slow)*time.Millisecond
	return r, err
}

// Rooms implements parley.Store.
func (s *Store) Rooms(ctx context.Context) ([]parley.Room, error) {
	return s.queryRooms(ctx, nil,
		`SELECT `+roomColumns+` FROM rooms WHERE name NOT LIKE 'dm:%' ORDER BY name`)
}

// DirectConversations implements parley.Store. Conversation keys are
// "dm:<a>:<b>" with a < b: nick is a prefix or a suffix of the key. The
// first range is a scan of the primary key ("C" collation: ';' follows
// ':'); the second reads every conversation's key, as SQLite does.
func (s *Store) DirectConversations(ctx context.Context, nick string) ([]parley.Room, error) {
	key := parley.NickKey(nick)
	return s.queryRooms(ctx, func(r parley.Room) bool {
		a, b, ok := parley.DMParties(r.Name)
		return ok && (a == key || b == key)
	}, `SELECT `+roomColumns+` FROM rooms
		 WHERE (name >= 'dm:' || $1::text || ':' AND name < 'dm:' || $1::text || ';')
		    OR (name >= 'dm:' AND name < 'dm;' AND right(name, length($1::text) + 1) = ':' || $1::text)
		 ORDER BY name`, key)
}

// queryRooms runs a query for roomColumns rows and keeps
// those keep accepts (nil: all).
func (s *Store) queryRooms(ctx context.Context, keep func(parley.Room) bool, query string, args ...any) ([]parley.Room, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	var rooms []parley.Room
	err := s.do(ctx, func() error {
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		rooms, err = pgx.AppendRows(rooms[:0], rows, func(row pgx.CollectableRow) (parley.Room, error) { return scanRoom(row) })
		return err
	})
	if err != nil {
		return nil, s.wrap(err, "list rooms")
	}
	out := []parley.Room{}
	for _, r := range rooms {
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// userColumns are the columns scanUser reads.
const userColumns = `nickname, claimed_at, last_seen, dm_cursor, password_hash <> '', role, last_ip`

func scanUser(row pgx.Row) (parley.User, error) {
	var u parley.User
	var role string
	err := row.Scan(&u.Nickname, &u.ClaimedAt, &u.LastSeen, &u.DMCursor, &u.Registered, &role, &u.LastIP)
	u.ClaimedAt, u.LastSeen, u.Role = u.ClaimedAt.UTC(), u.LastSeen.UTC(), parley.Role(role)
	return u, err
}

// ClaimNickname implements parley.Store. One transaction holds the
// nickname's advisory lock — the one direct messages to and from it take
// (see the package comment) — so claims of one nickname run one at a
// time, and the new holder's DMCursor, read after the lock, is at or
// above every direct message to the old holder. A registered nickname
// (one with a password) is never claimed: its token_hash is no token's
// (SetPassword).
func (s *Store) ClaimNickname(ctx context.Context, nick, tokenHash string, now, releaseBefore time.Time) (parley.User, error) {
	if s.closed.Load() {
		return parley.User{}, errClosed
	}
	key := parley.NickKey(nick)
	now = ms(now)
	var u parley.User
	err := s.do(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int4, $2::int4)`, personLockSpace, personLock(key)); err != nil {
				return err
			}
			var holder string
			var role string
			err := tx.QueryRow(ctx, `SELECT token_hash, `+userColumns+` FROM users WHERE nick_key = $1 FOR UPDATE`, key).
				Scan(&holder, &u.Nickname, &u.ClaimedAt, &u.LastSeen, &u.DMCursor, &u.Registered, &role, &u.LastIP)
			u.Role = parley.Role(role)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				u, err = scanUser(tx.QueryRow(ctx,
					`INSERT INTO users (nick_key, nickname, token_hash, claimed_at, last_seen, dm_cursor)
					 VALUES ($1, $2, $3, $4, $4, (SELECT COALESCE(MAX(id), 0) FROM messages))
					 RETURNING `+userColumns, key, nick, tokenHash, now))
				return err
			case err != nil:
				return err
			case u.Registered:
				return parley.Errorf(parley.ENicknameTaken, "%s is registered", nick)
			case holder == tokenHash:
				// The holder claims again: nothing changes.
				u.ClaimedAt, u.LastSeen = u.ClaimedAt.UTC(), u.LastSeen.UTC()
				return nil
			case u.LastSeen.Before(releaseBefore):
				u, err = scanUser(tx.QueryRow(ctx,
					`UPDATE users SET nickname = $2, token_hash = $3, claimed_at = $4, last_seen = $4, last_ip = '',
					 dm_cursor = (SELECT COALESCE(MAX(id), 0) FROM messages) WHERE nick_key = $1
					 RETURNING `+userColumns, key, nick, tokenHash, now))
				return err
			default:
				return parley.Errorf(parley.ENicknameTaken, "%s is taken", nick)
			}
		})
	})
	return u, s.wrap(err, "claim "+nick)
}

// UserByToken implements parley.Store.
func (s *Store) UserByToken(ctx context.Context, tokenHash string) (parley.User, error) {
	return s.user(ctx, "no user holds this token", `SELECT `+userColumns+` FROM users WHERE token_hash = $1`, tokenHash)
}

// UserByNickname implements parley.Store.
func (s *Store) UserByNickname(ctx context.Context, nick string) (parley.User, error) {
	return s.user(ctx, "no user is called "+nick, `SELECT `+userColumns+` FROM users WHERE nick_key = $1`, parley.NickKey(nick))
}

func (s *Store) user(ctx context.Context, missing, query string, arg string) (parley.User, error) {
	if s.closed.Load() {
		return parley.User{}, errClosed
	}
	var u parley.User
	err := s.do(ctx, func() (err error) {
		u, err = scanUser(s.pool.QueryRow(ctx, query, arg))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return parley.User{}, parley.Errorf(parley.ENotFound, "%s", missing)
	}
	return u, s.wrap(err, "read user")
}

// TouchUser implements parley.Store.
func (s *Store) TouchUser(ctx context.Context, nick string, seen time.Time, dmCursor int64, ip string) error {
	if s.closed.Load() {
		return errClosed
	}
	err := s.do(ctx, func() error {
		_, err := s.pool.Exec(ctx,
			`UPDATE users SET last_seen = $2, dm_cursor = GREATEST(dm_cursor, $3),
			 last_ip = CASE WHEN $4::text = '' THEN last_ip ELSE $4::text END WHERE nick_key = $1`,
			parley.NickKey(nick), ms(seen), dmCursor, ip)
		return err
	})
	return s.wrap(err, "touch user "+nick)
}
