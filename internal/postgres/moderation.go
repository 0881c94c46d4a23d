package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
)

// banColumns are the columns scanBan reads.
const banColumns = `id, kind, value, nickname, reason, actor, created_at, expires_at`

func scanBan(row pgx.Row) (parley.Ban, error) {
	var b parley.Ban
	var kind string
	var expires *time.Time
	err := row.Scan(&b.ID, &kind, &b.Value, &b.Nickname, &b.Reason, &b.By, &b.CreatedAt, &expires)
	b.Kind, b.CreatedAt, b.ExpiresAt = parley.BanKind(kind), b.CreatedAt.UTC(), fromOptTime(expires)
	return b, err
}

// AddBan implements parley.ModerationStore. Value is stored as given. It
// is not retried (see do).
func (s *Store) AddBan(ctx context.Context, b parley.Ban) (parley.Ban, error) {
	return queryOne(ctx, s, false, "add a ban", "", scanBan,
		`INSERT INTO bans (kind, value, nickname, reason, actor, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 RETURNING `+banColumns,
		string(b.Kind), b.Value, b.Nickname, b.Reason, b.By, ms(b.CreatedAt), optTime(b.ExpiresAt))
}

// DeleteBan implements parley.ModerationStore: the ban's row is deleted.
// It is not retried (see do): a second try would answer ENotFound.
func (s *Store) DeleteBan(ctx context.Context, id int64) (parley.Ban, error) {
	return queryOne(ctx, s, false, fmt.Sprintf("lift ban %d", id), fmt.Sprintf("no ban %d", id), scanBan,
		`DELETE FROM bans WHERE id = $1 RETURNING `+banColumns, id)
}

// Bans implements parley.ModerationStore.
func (s *Store) Bans(ctx context.Context, now time.Time) ([]parley.Ban, error) {
	return queryList(ctx, s, "list bans", scanBan,
		`SELECT `+banColumns+` FROM bans WHERE expires_at IS NULL OR expires_at > $1 ORDER BY id`, ms(now))
}

// muteColumns are the columns scanMute reads.
const muteColumns = `room, nickname, reason, actor, created_at, expires_at`

func scanMute(row pgx.Row) (parley.Mute, error) {
	var m parley.Mute
	var expires *time.Time
	err := row.Scan(&m.Room, &m.Nickname, &m.Reason, &m.By, &m.CreatedAt, &expires)
	m.CreatedAt, m.ExpiresAt = m.CreatedAt.UTC(), fromOptTime(expires)
	return m, err
}

// AddMute implements parley.ModerationStore.
func (s *Store) AddMute(ctx context.Context, m parley.Mute) (parley.Mute, error) {
	return queryOne(ctx, s, true, fmt.Sprintf("mute %s in %s", m.Nickname, m.Room), "", scanMute,
		`INSERT INTO mutes (room, nick_key, nickname, reason, actor, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT (room, nick_key) DO UPDATE SET nickname = excluded.nickname, reason = excluded.reason,
		 actor = excluded.actor, created_at = excluded.created_at, expires_at = excluded.expires_at
		 RETURNING `+muteColumns,
		m.Room, parley.NickKey(m.Nickname), m.Nickname, m.Reason, m.By, ms(m.CreatedAt), optTime(m.ExpiresAt))
}

// DeleteMute implements parley.ModerationStore. It is not retried (see
// do): a second try would answer ENotFound.
func (s *Store) DeleteMute(ctx context.Context, room, nick string) error {
	if s.closed.Load() {
		return errClosed
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM mutes WHERE room = $1 AND nick_key = $2`, room, parley.NickKey(nick))
	if err == nil && tag.RowsAffected() == 0 {
		return parley.Errorf(parley.ENotFound, "%s is not muted in %s", nick, room)
	}
	return s.wrap(err, fmt.Sprintf("unmute %s in %s", nick, room))
}

// Mutes implements parley.ModerationStore.
func (s *Store) Mutes(ctx context.Context, now time.Time) ([]parley.Mute, error) {
	return queryList(ctx, s, "list mutes", scanMute,
		`SELECT `+muteColumns+` FROM mutes WHERE expires_at IS NULL OR expires_at > $1 ORDER BY room, nick_key`, ms(now))
}

// SetSlowMode implements parley.ModerationStore.
func (s *Store) SetSlowMode(ctx context.Context, room string, every time.Duration) (parley.Room, error) {
	if every < 0 {
		return parley.Room{}, parley.Errorf(parley.EInvalid, "slow mode %v: want 0 or more", every)
	}
	return queryOne(ctx, s, true, "set the slow mode of "+room, "no room is called "+room, scanRoom,
		`UPDATE rooms SET slow_mode_ms = $2 WHERE name = $1 RETURNING `+roomColumns, room, every.Milliseconds())
}

// DeleteMessage implements parley.ModerationStore. The update touches a
// message that is not a tombstone yet; when it finds none, the message
// is read as it is (a tombstone already) or is missing.
func (s *Store) DeleteMessage(ctx context.Context, room string, seq int64, by string) (parley.Message, error) {
	if s.closed.Load() {
		return parley.Message{}, errClosed
	}
	var m parley.Message
	err := s.do(ctx, func() error {
		var err error
		m, err = scanMessage(s.pool.QueryRow(ctx,
			`UPDATE messages SET text = '', html = '', mentions = '{}', deleted = true, deleted_by = $3
			 WHERE room = $1 AND seq = $2 AND NOT deleted RETURNING `+messageColumns, room, seq, by))
		if errors.Is(err, pgx.ErrNoRows) {
			m, err = scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE room = $1 AND seq = $2`, room, seq))
		}
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return parley.Message{}, parley.Errorf(parley.ENotFound, "no message %d in %s", seq, room)
	}
	return m, s.wrap(err, fmt.Sprintf("delete message %d of %s", seq, room))
}

// actionColumns are the columns scanAction reads.
const actionColumns = `id, at, actor, kind, target, room, detail`

func scanAction(row pgx.Row) (parley.Action, error) {
	var a parley.Action
	var kind string
	err := row.Scan(&a.ID, &a.At, &a.Actor, &kind, &a.Target, &a.Room, &a.Detail)
	a.At, a.Kind = a.At.UTC(), parley.ActionKind(kind)
	return a, err
}

// LogAction implements parley.ModerationStore. It is not retried (see do).
func (s *Store) LogAction(ctx context.Context, a parley.Action) (parley.Action, error) {
	return queryOne(ctx, s, false, "log an action", "", scanAction,
		`INSERT INTO actions (at, actor, kind, target, room, detail) VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+actionColumns,
		ms(a.At), a.Actor, string(a.Kind), a.Target, a.Room, a.Detail)
}

// Actions implements parley.ModerationStore.
func (s *Store) Actions(ctx context.Context, before int64, limit int) ([]parley.Action, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	return queryList(ctx, s, "read the action log", scanAction,
		`SELECT `+actionColumns+` FROM actions WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, sqlLimit(limit))
}
