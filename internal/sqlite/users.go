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
	r := parley.Room{Name: name}
	var created int64
	err := q.QueryRowContext(ctx, `SELECT last_seq, created_at FROM rooms WHERE name = ?`, name).Scan(&r.LastSeq, &created)
	r.CreatedAt = fromMillis(created)
	return r, err
}

// Rooms implements parley.Store.
func (s *Store) Rooms(ctx context.Context) ([]parley.Room, error) {
	return s.queryRooms(ctx, nil, `SELECT name, last_seq, created_at FROM rooms WHERE name NOT LIKE 'dm:%' ORDER BY name`)
}

// queryRooms runs a query for (name, last_seq, created_at) rows and keeps
// those keep accepts (nil: all).
func (s *Store) queryRooms(ctx context.Context, keep func(parley.Room) bool, query string, args ...any) ([]parley.Room, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(err, "list rooms")
	}
	defer rows.Close()
	rooms := []parley.Room{}
	for rows.Next() {
		var r parley.Room
		var created int64
		if err := rows.Scan(&r.Name, &r.LastSeq, &created); err != nil {
			return nil, wrap(err, "list rooms")
		}
		r.CreatedAt = fromMillis(created)
		if keep == nil || keep(r) {
			rooms = append(rooms, r)
		}
	}
	return rooms, wrap(rows.Err(), "list rooms")
}

const userColumns = `nickname, claimed_at, last_seen, dm_cursor`

func scanUser(row scanner) (parley.User, error) {
	var u parley.User
	var claimed, seen int64
	err := row.Scan(&u.Nickname, &claimed, &seen, &u.DMCursor)
	u.ClaimedAt, u.LastSeen = fromMillis(claimed), fromMillis(seen)
	return u, err
}

// ClaimNickname implements parley.Store.
func (s *Store) ClaimNickname(ctx context.Context, nick, tokenHash string, now, releaseBefore time.Time) (parley.User, error) {
	var u parley.User
	key := parley.NickKey(nick)
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var holder string
		var seen int64
		err := tx.QueryRowContext(ctx, `SELECT token_hash, last_seen FROM users WHERE nick_key = ?`, key).Scan(&holder, &seen)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx,
				`INSERT INTO users (nick_key, nickname, token_hash, claimed_at, last_seen, dm_cursor)
				 VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM messages))`,
				key, nick, tokenHash, millis(now), millis(now))
		case err != nil:
		case holder == tokenHash:
			// The holder claims again: nothing changes.
		case fromMillis(seen).Before(releaseBefore):
			_, err = tx.ExecContext(ctx,
				`UPDATE users SET nickname = ?, token_hash = ?, claimed_at = ?, last_seen = ?,
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
			`UPDATE users SET last_seen = ?, dm_cursor = MAX(dm_cursor, ?) WHERE nick_key = ?`,
			millis(seen), dmCursor, parley.NickKey(nick))
		return err
	})
}

// AddAnnouncement implements parley.Store.
func (s *Store) AddAnnouncement(ctx context.Context, a parley.Announcement) (parley.Announcement, error) {
	a.CreatedAt, a.ExpiresAt = fromMillis(millis(a.CreatedAt)), fromMillis(millis(a.ExpiresAt))
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx,
			`INSERT INTO announcements (text, html, created_at, expires_at) VALUES (?, ?, ?, ?) RETURNING id`,
			a.Text, a.HTML, millis(a.CreatedAt), millis(a.ExpiresAt)).Scan(&a.ID)
	})
	return a, err
}

// ActiveAnnouncements implements parley.Store.
func (s *Store) ActiveAnnouncements(ctx context.Context, now time.Time) ([]parley.Announcement, error) {
	rows, err := s.read.QueryContext(ctx,
		`SELECT id, text, html, created_at, expires_at FROM announcements WHERE expires_at > ? ORDER BY id`, millis(now))
	if err != nil {
		return nil, wrap(err, "list announcements")
	}
	defer rows.Close()
	out := []parley.Announcement{}
	for rows.Next() {
		var a parley.Announcement
		var created, expires int64
		if err := rows.Scan(&a.ID, &a.Text, &a.HTML, &created, &expires); err != nil {
			return nil, wrap(err, "list announcements")
		}
		a.CreatedAt, a.ExpiresAt = fromMillis(created), fromMillis(expires)
		out = append(out, a)
	}
	return out, wrap(rows.Err(), "list announcements")
}

func notFound(err error, msg string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return parley.Errorf(parley.ENotFound, "%s", msg)
	}
	return wrap(err, "read user")
}

func wrap(err error, what string) error {
	if err == nil {
		return nil
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
	}, `SELECT name, last_seq, created_at FROM rooms
		 WHERE (name >= 'dm:' || ?1 || ':' AND name < 'dm:' || ?1 || ';')
		    OR (name >= 'dm:' AND name < 'dm;' AND substr(name, -length(?1) - 1) = ':' || ?1)
		 ORDER BY name`, key)
}
