package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/parley-chat/parley"
)

// banColumns are the columns scanBan reads.
const banColumns = `id, kind, value, nickname, reason, actor, created_at, expires_at`

func scanBan(row scanner) (parley.Ban, error) {
	var b parley.Ban
	var kind string
	var created, expires int64
	err := row.Scan(&b.ID, &kind, &b.Value, &b.Nickname, &b.Reason, &b.By, &created, &expires)
	b.Kind, b.CreatedAt, b.ExpiresAt = parley.BanKind(kind), fromMillis(created), fromOptMillis(expires)
	return b, err
}

// AddBan implements parley.ModerationStore. Value is stored as given.
func (s *Store) AddBan(ctx context.Context, b parley.Ban) (parley.Ban, error) {
	b.CreatedAt, b.ExpiresAt = fromMillis(millis(b.CreatedAt)), cutOpt(b.ExpiresAt)
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx,
			`INSERT INTO bans (kind, value, nickname, reason, actor, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			string(b.Kind), b.Value, b.Nickname, b.Reason, b.By, millis(b.CreatedAt), optMillis(b.ExpiresAt)).Scan(&b.ID)
	})
	return b, wrap(err, "add a ban")
}

// DeleteBan implements parley.ModerationStore: the ban's row is deleted.
func (s *Store) DeleteBan(ctx context.Context, id int64) (parley.Ban, error) {
	var b parley.Ban
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		b, err = scanBan(tx.QueryRowContext(ctx, `DELETE FROM bans WHERE id = ? RETURNING `+banColumns, id))
		if errors.Is(err, sql.ErrNoRows) {
			return parley.Errorf(parley.ENotFound, "no ban %d", id)
		}
		return err
	})
	return b, wrap(err, "lift a ban")
}

// Bans implements parley.ModerationStore.
func (s *Store) Bans(ctx context.Context, now time.Time) ([]parley.Ban, error) {
	return queryList(ctx, s.read, "list bans", scanBan,
		`SELECT `+banColumns+` FROM bans WHERE expires_at = 0 OR expires_at > ? ORDER BY id`, millis(now))
}

// muteColumns are the columns scanMute reads.
const muteColumns = `room, nickname, reason, actor, created_at, expires_at`

func scanMute(row scanner) (parley.Mute, error) {
	var m parley.Mute
	var created, expires int64
	err := row.Scan(&m.Room, &m.Nickname, &m.Reason, &m.By, &created, &expires)
	m.CreatedAt, m.ExpiresAt = fromMillis(created), fromOptMillis(expires)
	return m, err
}

// AddMute implements parley.ModerationStore.
func (s *Store) AddMute(ctx context.Context, m parley.Mute) (parley.Mute, error) {
	m.CreatedAt, m.ExpiresAt = fromMillis(millis(m.CreatedAt)), cutOpt(m.ExpiresAt)
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT OR REPLACE INTO mutes (room, nick_key, nickname, reason, actor, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			m.Room, parley.NickKey(m.Nickname), m.Nickname, m.Reason, m.By, millis(m.CreatedAt), optMillis(m.ExpiresAt))
		return err
	})
	return m, wrap(err, fmt.Sprintf("mute %s in %s", m.Nickname, m.Room))
}

// DeleteMute implements parley.ModerationStore.
func (s *Store) DeleteMute(ctx context.Context, room, nick string) error {
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM mutes WHERE room = ? AND nick_key = ?`, room, parley.NickKey(nick))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return parley.Errorf(parley.ENotFound, "%s is not muted in %s", nick, room)
		}
		return nil
	})
	return wrap(err, fmt.Sprintf("unmute %s in %s", nick, room))
}

// Mutes implements parley.ModerationStore.
func (s *Store) Mutes(ctx context.Context, now time.Time) ([]parley.Mute, error) {
	return queryList(ctx, s.read, "list mutes", scanMute,
		`SELECT `+muteColumns+` FROM mutes WHERE expires_at = 0 OR expires_at > ? ORDER BY room, nick_key`, millis(now))
}

// SetSlowMode implements parley.ModerationStore. The room is read back
// from the read pool after the commit.
func (s *Store) SetSlowMode(ctx context.Context, room string, every time.Duration) (parley.Room, error) {
	if every < 0 {
		return parley.Room{}, parley.Errorf(parley.EInvalid, "slow mode %v: want 0 or more", every)
	}
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE rooms SET slow_mode_ms = ? WHERE name = ?`, every.Milliseconds(), room)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return parley.Errorf(parley.ENotFound, "no room is called %s", room)
		}
		return nil
	})
	if err != nil {
		return parley.Room{}, wrap(err, "set the slow mode of "+room)
	}
	r, err := s.room(ctx, s.read, room)
	return r, wrap(err, "read room")
}

// DeleteMessage implements parley.ModerationStore.
func (s *Store) DeleteMessage(ctx context.Context, room string, seq int64, by string) (parley.Message, error) {
	var m parley.Message
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		m, err = scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE room = ? AND seq = ?`, room, seq))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return parley.Errorf(parley.ENotFound, "no message %d in %s", seq, room)
		case err != nil || m.Deleted:
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE messages SET text = '', html = '', mentions = '[]', deleted = 1, deleted_by = ? WHERE id = ?`, by, m.ID); err != nil {
			return err
		}
		m.Text, m.HTML, m.Mentions, m.Deleted, m.DeletedBy = "", "", nil, true, by
		return nil
	})
	return m, wrap(err, fmt.Sprintf("delete message %d of %s", seq, room))
}

// actionColumns are the columns scanAction reads.
const actionColumns = `id, at, actor, kind, target, room, detail`

func scanAction(row scanner) (parley.Action, error) {
	var a parley.Action
	var at int64
	var kind string
	err := row.Scan(&a.ID, &at, &a.Actor, &kind, &a.Target, &a.Room, &a.Detail)
	a.At, a.Kind = fromMillis(at), parley.ActionKind(kind)
	return a, err
}

// LogAction implements parley.ModerationStore.
func (s *Store) LogAction(ctx context.Context, a parley.Action) (parley.Action, error) {
	a.At = fromMillis(millis(a.At))
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx,
			`INSERT INTO actions (at, actor, kind, target, room, detail) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			millis(a.At), a.Actor, string(a.Kind), a.Target, a.Room, a.Detail).Scan(&a.ID)
	})
	return a, wrap(err, "log an action")
}

// Actions implements parley.ModerationStore.
func (s *Store) Actions(ctx context.Context, before int64, limit int) ([]parley.Action, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	return queryList(ctx, s.read, "read the action log", scanAction,
		`SELECT `+actionColumns+` FROM actions WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
}
