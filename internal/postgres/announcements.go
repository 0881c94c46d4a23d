package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
)

// announcementColumns are the columns scanAnnouncement reads.
const announcementColumns = `id, text, html, created_at, starts_at, expires_at, actor`

func scanAnnouncement(row pgx.Row) (parley.Announcement, error) {
	var a parley.Announcement
	err := row.Scan(&a.ID, &a.Text, &a.HTML, &a.CreatedAt, &a.StartsAt, &a.ExpiresAt, &a.By)
	a.CreatedAt, a.StartsAt, a.ExpiresAt = a.CreatedAt.UTC(), a.StartsAt.UTC(), a.ExpiresAt.UTC()
	return a, err
}

// AddAnnouncement implements parley.Store. It is not retried (see do): a
// second try could store the announcement twice.
func (s *Store) AddAnnouncement(ctx context.Context, a parley.Announcement) (parley.Announcement, error) {
	if s.closed.Load() {
		return parley.Announcement{}, errClosed
	}
	if a.StartsAt.IsZero() {
		a.StartsAt = a.CreatedAt
	}
	a.CreatedAt, a.StartsAt, a.ExpiresAt = ms(a.CreatedAt), ms(a.StartsAt), ms(a.ExpiresAt)
	err := s.pool.QueryRow(ctx,
		`INSERT INTO announcements (text, html, created_at, starts_at, expires_at, actor) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		a.Text, a.HTML, a.CreatedAt, a.StartsAt, a.ExpiresAt, a.By).Scan(&a.ID)
	return a, s.wrap(err, "add announcement")
}

// ActiveAnnouncements implements parley.Store.
func (s *Store) ActiveAnnouncements(ctx context.Context, now time.Time) ([]parley.Announcement, error) {
	return queryList(ctx, s, "list active announcements", scanAnnouncement,
		`SELECT `+announcementColumns+` FROM announcements WHERE starts_at <= $1 AND expires_at > $1 ORDER BY id`, ms(now))
}

// Announcements implements parley.Store.
func (s *Store) Announcements(ctx context.Context, now time.Time) ([]parley.Announcement, error) {
	return queryList(ctx, s, "list announcements", scanAnnouncement,
		`SELECT `+announcementColumns+` FROM announcements WHERE expires_at > $1 ORDER BY starts_at, id`, ms(now))
}

// DeleteAnnouncement implements parley.Store.
func (s *Store) DeleteAnnouncement(ctx context.Context, id int64) (parley.Announcement, error) {
	return queryOne(ctx, s, false, fmt.Sprintf("delete announcement %d", id), fmt.Sprintf("no announcement %d", id),
		scanAnnouncement, `DELETE FROM announcements WHERE id = $1 RETURNING `+announcementColumns, id)
}

// queryList runs a query (again once if its connection was lost: see do)
// and scans every row with scan; what says what it was doing, in errors.
// It returns an empty slice, not nil, when no row matches.
func queryList[T any](ctx context.Context, s *Store, what string, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	var out []T
	err := s.do(ctx, func() error {
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		out, err = pgx.AppendRows(out[:0], rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
		return err
	})
	if err != nil {
		return nil, s.wrap(err, what)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// queryOne runs a query for one row and scans it with scan — again once if
// its connection was lost and retry is set (the query must then be
// idempotent: see do). No row is ENotFound with the message missing.
func queryOne[T any](ctx context.Context, s *Store, retry bool, what, missing string, scan func(pgx.Row) (T, error), query string, args ...any) (T, error) {
	var v T
	if s.closed.Load() {
		return v, errClosed
	}
	fn := func() (err error) {
		v, err = scan(s.pool.QueryRow(ctx, query, args...))
		return err
	}
	var err error
	if retry {
		err = s.do(ctx, fn)
	} else {
		err = fn()
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return v, parley.Errorf(parley.ENotFound, "%s", missing)
	}
	return v, s.wrap(err, what)
}

// exec runs an idempotent statement (again once if its connection was
// lost: see do) and returns the number of rows it touched.
func (s *Store) exec(ctx context.Context, what, query string, args ...any) (int64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	var n int64
	err := s.do(ctx, func() error {
		tag, err := s.pool.Exec(ctx, query, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, s.wrap(err, what)
}

// optTime is an optional time as a parameter: NULL for the zero time.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = ms(t)
	return &t
}

// fromOptTime reads an optional time: NULL is the zero time.
func fromOptTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
