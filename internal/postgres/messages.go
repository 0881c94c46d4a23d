package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
)

const messageColumns = `id, room, seq, sender, recipient, text, html, mentions, client_id, created_at, deleted, deleted_by`

// appendSQL stores a message, or finds the one its sender stored before
// with the same client_id, in one statement (one transaction):
//
//   - dup finds the earlier message; then nothing is written and the
//     statement returns it, flagged.
//   - bump otherwise takes the room's next seq: it creates the room (seq 1)
//     or adds one to its last_seq, and the row lock it takes serializes the
//     room's writers until the commit.
//   - ins stores the message with that seq; its ID, from the identity
//     sequence, is taken after the room's lock.
//
// If another transaction stores the same (sender_key, client_id) between
// dup's look and ins, ins violates messages_client_id and the whole
// statement rolls back, seq included; Append then returns the other's
// message. The casts give the parameters their types (INSERT … SELECT does
// not infer them).
const appendSQL = `
WITH dup AS (
	SELECT ` + messageColumns + ` FROM messages
	WHERE sender_key = $3::text AND client_id = $9::text AND client_id <> ''
), bump AS (
	INSERT INTO rooms AS r (name, last_seq, created_at)
	SELECT $1::text, 1, date_trunc('milliseconds', now()) WHERE NOT EXISTS (SELECT FROM dup)
	ON CONFLICT (name) DO UPDATE SET last_seq = r.last_seq + 1
	RETURNING last_seq
), ins AS (
	INSERT INTO messages (room, seq, sender, sender_key, recipient, recipient_key, text, html, mentions, client_id, created_at)
	SELECT $1::text, last_seq, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text[], $9::text, $10::timestamptz FROM bump
	RETURNING ` + messageColumns + `
)
SELECT false, ` + messageColumns + ` FROM ins
UNION ALL
SELECT true, ` + messageColumns + ` FROM dup`

// lockPeopleSQL takes the advisory locks of a direct message's two people,
// the smaller key first ($2 <= $3; equal keys lock once, re-entrantly).
const lockPeopleSQL = `SELECT pg_advisory_xact_lock($1::int4, $2::int4), pg_advisory_xact_lock($1::int4, $3::int4)`

// findDupSQL finds the message a sender stored with a client_id.
const findDupSQL = `SELECT ` + messageColumns + ` FROM messages WHERE sender_key = $1 AND client_id = $2 AND client_id <> ''`

// Append implements parley.Store. A room message is one statement (see
// appendSQL); a direct message is the same statement after the advisory
// locks of its two people, sent together in one round trip and run in one
// implicit transaction (see the package comment).
//
// If ctx ends or the connection breaks while the statement runs, Append
// returns at once with an error, but the server may still commit the
// message; resent with the same client_id, it is then found (dup true).
// Append is not retried by the store for that reason.
func (s *Store) Append(ctx context.Context, m parley.Message) (parley.Message, bool, error) {
	if s.closed.Load() {
		return parley.Message{}, false, errClosed
	}
	return s.appendOne(ctx, m)
}

// appendOne is Append, also for the writer's queue after Close.
func (s *Store) appendOne(ctx context.Context, m parley.Message) (parley.Message, bool, error) {
	fromKey, toKey := parley.NickKey(m.From), parley.NickKey(m.To)
	mentions := m.Mentions
	if mentions == nil {
		mentions = []string{}
	}
	args := []any{m.Room, m.From, fromKey, m.To, toKey, m.Text, m.HTML, mentions, m.ClientID, ms(m.CreatedAt)}

	var (
		stored parley.Message
		dup    bool
		err    error
	)
	if a, b, direct := people(m.Room, fromKey, toKey); direct {
		batch := &pgx.Batch{}
		batch.Queue(lockPeopleSQL, personLockSpace, a, b)
		batch.Queue(appendSQL, args...)
		br := s.pool.SendBatch(ctx, batch)
		if _, err = br.Exec(); err == nil {
			stored, dup, err = scanAppended(br.QueryRow())
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	} else {
		stored, dup, err = scanAppended(s.pool.QueryRow(ctx, appendSQL, args...))
	}

	if isClientIDConflict(err) {
		// Another node stored the same client_id first, and committed.
		stored, err = scanMessage(s.pool.QueryRow(ctx, findDupSQL, fromKey, m.ClientID))
		if err != nil {
			return parley.Message{}, false, s.wrap(err, fmt.Sprintf("find the original of client_id %q", m.ClientID))
		}
		return stored, true, nil
	}
	if err != nil {
		return parley.Message{}, false, s.wrap(err, "append to "+m.Room)
	}
	return stored, dup, nil
}

// people returns the advisory lock keys, in order, of the two people of a
// direct message — the parties of its conversation key, or else its
// sender and recipient — and whether it is one.
func people(room, fromKey, toKey string) (a, b int32, direct bool) {
	x, y, ok := parley.DMParties(room)
	if !ok {
		if toKey == "" {
			return 0, 0, false
		}
		x, y = fromKey, toKey
	}
	a, b = personLock(x), personLock(y)
	if b < a {
		a, b = b, a
	}
	return a, b, true
}

func scanAppended(row pgx.Row) (parley.Message, bool, error) {
	var (
		m   parley.Message
		dup bool
	)
	err := row.Scan(&dup, &m.ID, &m.Room, &m.Seq, &m.From, &m.To, &m.Text, &m.HTML, &m.Mentions, &m.ClientID, &m.CreatedAt, &m.Deleted, &m.DeletedBy)
	return tidy(m), dup, err
}

func scanMessage(row pgx.Row) (parley.Message, error) {
	var m parley.Message
	err := row.Scan(&m.ID, &m.Room, &m.Seq, &m.From, &m.To, &m.Text, &m.HTML, &m.Mentions, &m.ClientID, &m.CreatedAt, &m.Deleted, &m.DeletedBy)
	return tidy(m), err
}

// tidy gives a message read from the database the form Append was given:
// no mentions is nil, the time is in UTC.
func tidy(m parley.Message) parley.Message {
	if len(m.Mentions) == 0 {
		m.Mentions = nil
	}
	m.CreatedAt = m.CreatedAt.UTC()
	return m
}

// History implements parley.Store.
func (s *Store) History(ctx context.Context, room string, before int64, limit int) ([]parley.Message, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	msgs, err := s.queryMessages(ctx, "read the history of "+room,
		`SELECT `+messageColumns+` FROM messages WHERE room = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
		room, before, sqlLimit(limit))
	slices.Reverse(msgs)
	return msgs, err
}

// After implements parley.Store.
func (s *Store) After(ctx context.Context, room string, after int64, limit int) ([]parley.Message, error) {
	return s.queryMessages(ctx, "read "+room,
		`SELECT `+messageColumns+` FROM messages WHERE room = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		room, after, sqlLimit(limit))
}

// DirectSince implements parley.Store. The messages come in ID order, and
// no message to nick with a smaller ID than one returned commits later
// (see the package comment), so afterID may be the largest ID seen.
func (s *Store) DirectSince(ctx context.Context, nick string, afterID int64, limit int) ([]parley.Message, error) {
	return s.queryMessages(ctx, "read the direct messages to "+nick,
		`SELECT `+messageColumns+` FROM messages WHERE recipient_key = $1 AND recipient_key <> '' AND id > $2 ORDER BY id LIMIT $3`,
		parley.NickKey(nick), afterID, sqlLimit(limit))
}

// sqlLimit is the LIMIT for limit: a negative one means no limit, as in
// SQLite (PostgreSQL refuses it).
func sqlLimit(limit int) int64 {
	if limit < 0 {
		return math.MaxInt64
	}
	return int64(limit)
}

// queryMessages runs a query for messageColumns rows (again once if its
// connection was lost: see do).
func (s *Store) queryMessages(ctx context.Context, what, query string, args ...any) ([]parley.Message, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	var msgs []parley.Message
	err := s.do(ctx, func() error {
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		msgs, err = pgx.AppendRows(msgs[:0], rows, func(row pgx.CollectableRow) (parley.Message, error) { return scanMessage(row) })
		return err
	})
	if err != nil {
		return nil, s.wrap(err, what)
	}
	if msgs == nil {
		msgs = []parley.Message{}
	}
	return msgs, nil
}
