package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/parley-chat/parley"
)

// announcementColumns are the columns scanAnnouncement reads.
const announcementColumns = `id, text, html, created_at, starts_at, expires_at, actor`

func scanAnnouncement(row scanner) (parley.Announcement, error) {
	var a parley.Announcement
	var created, starts, expires int64
	err := row.Scan(&a.ID, &a.Text, &a.HTML, &created, &starts, &expires, &a.By)
	a.CreatedAt, a.StartsAt, a.ExpiresAt = fromMillis(created), fromMillis(starts), fromMillis(expires)
	return a, err
}

// AddAnnouncement implements parley.Store.
func (s *Store) AddAnnouncement(ctx context.Context, a parley.Announcement) (parley.Announcement, error) {
	if a.StartsAt.IsZero() {
		a.StartsAt = a.CreatedAt
	}
	a.CreatedAt, a.StartsAt, a.ExpiresAt = fromMillis(millis(a.CreatedAt)), fromMillis(millis(a.StartsAt)), fromMillis(millis(a.ExpiresAt))
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx,
			`INSERT INTO announcements (text, html, created_at, starts_at, expires_at, actor) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			a.Text, a.HTML, millis(a.CreatedAt), millis(a.StartsAt), millis(a.ExpiresAt), a.By).Scan(&a.ID)
	})
	return a, wrap(err, "add announcement")
}

// ActiveAnnouncements implements parley.Store.
func (s *Store) ActiveAnnouncements(ctx context.Context, now time.Time) ([]parley.Announcement, error) {
	return queryList(ctx, s.read, "list active announcements", scanAnnouncement,
		`SELECT `+announcementColumns+` FROM announcements WHERE starts_at <= ?1 AND expires_at > ?1 ORDER BY id`, millis(now))
}

// Announcements implements parley.Store.
func (s *Store) Announcements(ctx context.Context, now time.Time) ([]parley.Announcement, error) {
	return queryList(ctx, s.read, "list announcements", scanAnnouncement,
		`SELECT `+announcementColumns+` FROM announcements WHERE expires_at > ? ORDER BY starts_at, id`, millis(now))
}

// DeleteAnnouncement implements parley.Store.
func (s *Store) DeleteAnnouncement(ctx context.Context, id int64) (parley.Announcement, error) {
	var a parley.Announcement
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		a, err = scanAnnouncement(tx.QueryRowContext(ctx,
			`DELETE FROM announcements WHERE id = ? RETURNING `+announcementColumns, id))
		if errors.Is(err, sql.ErrNoRows) {
			return parley.Errorf(parley.ENotFound, "no announcement %d", id)
		}
		return err
	})
	return a, wrap(err, "delete announcement")
}

// queryList runs query on db and scans every row with scan; what says
// what it was doing, in errors. It returns an empty slice, not nil, when
// no row matches.
func queryList[T any](ctx context.Context, db *sql.DB, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(err, what)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrap(err, what)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, what)
	}
	return out, nil
}

// optMillis is an optional time in the database: 0 for the zero time.
func optMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return millis(t)
}

// fromOptMillis reads an optional time: 0 is the zero time.
func fromOptMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return fromMillis(ms)
}

// cutOpt cuts an optional time to whole milliseconds in UTC, as it is read
// back.
func cutOpt(t time.Time) time.Time { return fromOptMillis(optMillis(t)) }
