package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-chat/parley"
)

// isDomain reports whether err is a *parley.Error a write returned on
// purpose (before writing anything), which does not fail its batch.
func isDomain(err error) bool {
	var e *parley.Error
	return errors.As(err, &e)
}

// EnsureRoom implements parley.Store. It reads first: most joins are to
// rooms that exist, and need no write.
func (s *Store) EnsureRoom(ctx context.Context, name string) (parley.Room, error) {
	r, err := s.room(ctx, s.read, name)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return r, wrap(err, "read room")
	}
	now := millis(time.Now())
	err = s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO rooms (name, last_seq, created_at) VALUES (?, 0, ?) ON CONFLICT DO NOTHING`, name, now)
		return err
	})
	if err != nil {
		return parley.Room{}, err
	}
	r, err = s.room(ctx, s.read, name)
	return r, wrap(err, "read room")
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) room(ctx context.Context, q querier, name string) (parley.Room, error) {
	return scanRoom(q.QueryRowContext(ctx, `SELECT `+roomColumns+` FROM rooms WHERE name = ?`, name))
}

// roomColumns are the columns scanRoom reads.
const roomColumns = `name, last_seq, created_at, slow_mode_ms`

func scanRoom(row scanner) (parley.Room, error) {
	var r parley.Room
	var created, slow int64
	err := row.Scan(&r.Name, &r.LastSeq, &created, &slow)
	r.CreatedAt, r.SlowMode = fromMillis(created), time.Duration(slow)*time.Millisecond
	return r, err
}

// Rooms implements parley.Store.
func (s *Store) Rooms(ctx context.Context) ([]parley.Room, error) {
	return s.queryRooms(ctx, nil, `SELECT `+roomColumns+` FROM rooms WHERE name NOT LIKE 'dm:%' ORDER BY name`)
}

// queryRooms runs a query for roomColumns rows and keeps
// those keep accepts (nil: all).
func (s *Store) queryRooms(ctx context.Context, keep func(parley.Room) bool, query string, args ...any) ([]parley.Room, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(err, "list rooms")
	}
	defer rows.Close()
	rooms := []parley.Room{}
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return nil, wrap(err, "list rooms")
		}
		if keep == nil || keep(r) {
			rooms = append(rooms, r)
		}
	}
	return rooms, wrap(rows.Err(), "list rooms")
}

// userColumns are the columns scanUser reads.
const userColumns = `nickname, claimed_at, last_seen, dm_cursor, password_hash <> '', role, last_ip`

func scanUser(row scanner) (parley.User, error) {
	var u parley.User
	var claimed, seen int64
	var role string
	err := row.Scan(&u.Nickname, &claimed, &seen, &u.DMCursor, &u.Registered, &role, &u.LastIP)
	u.ClaimedAt, u.LastSeen, u.Role = fromMillis(claimed), fromMillis(seen), parley.Role(role)
	return u, err
}

// ClaimNickname implements parley.Store. A registered nickname (one with a
// password) is never claimed: its token_hash is no token's (SetPassword).
func (s *Store) ClaimNickname(ctx context.Context, nick, tokenHash string, now, releaseBefore time.Time) (parley.User, error) {
	var u parley.User
	key := parley.NickKey(nick)
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var holder string
		var seen int64
		var registered bool
		err := tx.QueryRowContext(ctx, `SELECT token_hash, last_seen, password_hash <> '' FROM users WHERE nick_key = ?`, key).Scan(&holder, &seen, &registered)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx,
				`INSERT INTO users (nick_key, nickname, token_hash, claimed_at, last_seen, dm_cursor)
				 VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM messages))`,
				key, nick, tokenHash, millis(now), millis(now))
		case err != nil:
		case registered:
			return parley.Errorf(parley.ENicknameTaken, "%s is registered", nick)
		case holder == tokenHash:
			// The holder claims again: nothing changes.
		case fromMillis(seen).Before(releaseBefore):
			_, err = tx.ExecContext(ctx,
				`UPDATE users SET nickname = ?, token_hash = ?, claimed_at = ?, last_seen = ?, last_ip = '',
				 dm_cursor = (SELECT COALESCE(MAX(id), 0) FROM messages) WHERE nick_key = ?`,
				nick, tokenHash, millis(now), millis(now), key)
		default:
			return parley.Errorf(parley.ENicknameTaken, "%s is taken", nick)
		}
		if err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE nick_key = ?`, key))
		return err
	})
	return u, err
}

// UserByToken implements parley.Store.
func (s *Store) UserByToken(ctx context.Context, tokenHash string) (parley.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE token_hash = ?`, tokenHash))
	return u, notFound(err, "no user holds this token")
}

// UserByNickname implements parley.Store.
func (s *Store) UserByNickname(ctx context.Context, nick string) (parley.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE nick_key = ?`, parley.NickKey(nick)))
	return u, notFound(err, "no user is called "+nick)
}

// TouchUser implements parley.Store.
func (s *Store) TouchUser(ctx context.Context, nick string, seen time.Time, dmCursor int64, ip string) error {
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`UPDATE users SET last_seen = ?1, dm_cursor = MAX(dm_cursor, ?2),
			 last_ip = CASE WHEN ?3 = '' THEN last_ip ELSE ?3 END WHERE nick_key = ?4`,
			millis(seen), dmCursor, ip, parley.NickKey(nick))
		return err
	})
}

func notFound(err error, msg string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return parley.Errorf(parley.ENotFound, "%s", msg)
	}
	return wrap(err, "read user")
}

// wrap adds what the store was doing to err; a *parley.Error (an outcome
// the contract names) is returned as it is.
func wrap(err error, what string) error {
	if err == nil || isDomain(err) {
		return err
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

// DirectConversations implements parley.Store. Conversation keys are
// "dm:<a>:<b>" with a < b: nick is a prefix or a suffix of the key.
func (s *Store) DirectConversations(ctx context.Context, nick string) ([]parley.Room, error) {
	key := parley.NickKey(nick)
	return s.queryRooms(ctx, func(r parley.Room) bool {
		a, b, ok := parley.DMParties(r.Name)
		return ok && (a == key || b == key)
	}, `SELECT `+roomColumns+` FROM rooms
		 WHERE (name >= 'dm:' || ?1 || ':' AND name < 'dm:' || ?1 || ';')
		    OR (name >= 'dm:' AND name < 'dm;' AND substr(name, -length(?1) - 1) = ':' || ?1)
		 ORDER BY name`, key)
}
