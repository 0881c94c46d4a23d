package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/parley-chat/parley"
)

const messageColumns = `id, room, seq, sender, recipient, text, html, mentions, client_id, created_at, deleted, deleted_by`

// Append implements parley.Store.
func (s *Store) Append(ctx context.Context, m parley.Message) (parley.Message, bool, error) {
	return s.QueueAppend(ctx, m)()
}

// QueueAppend puts m in the writer's queue now and returns a function that
// waits for the outcome of Append. Messages queued one after another are
// stored in that order — a room's seqs follow it — so a connection may
// queue its next message while the one before waits for its commit.
//
// The common case is one statement: the message is inserted with the
// room's next seq, kept by the writer (seqs.go); a client_id seen before
// makes the insert do nothing (the unique index), and then the original is
// looked up and returned instead — its seq is not used up.
func (s *Store) QueueAppend(ctx context.Context, m parley.Message) (wait func() (parley.Message, bool, error)) {
	// What does not need the transaction is done here, not on the writer.
	mentions, err := json.Marshal(nonNil(m.Mentions))
	if err != nil {
		return func() (parley.Message, bool, error) { return parley.Message{}, false, err }
	}
	fromKey, toKey := parley.NickKey(m.From), parley.NickKey(m.To)
	m.CreatedAt = fromMillis(millis(m.CreatedAt))
	var dup bool
	done := s.queue(ctx, func(ctx context.Context, tx *sql.Tx) error {
		seq, err := s.seqs.next(ctx, tx, m.Room)
		if err != nil {
			return fmt.Errorf("next seq of %s: %w", m.Room, err)
		}
		m.Seq = seq
		err = tx.StmtContext(ctx, s.insertMsg).QueryRowContext(ctx,
			m.Room, m.Seq, m.From, fromKey, m.To, toKey,
			m.Text, m.HTML, string(mentions), m.ClientID, millis(m.CreatedAt)).Scan(&m.ID)
		switch {
		case err == nil:
			s.seqs.used(m.Room, seq)
			return nil
		case !errors.Is(err, sql.ErrNoRows) || m.ClientID == "":
			return fmt.Errorf("insert message: %w", err)
		}
		// Seen before: the original, stored earlier (maybe in this batch).
		prev, err := scanMessage(tx.StmtContext(ctx, s.findDup).QueryRowContext(ctx, fromKey, m.ClientID))
		if err != nil {
			return fmt.Errorf("find the original of client_id %q: %w", m.ClientID, err)
		}
		m, dup = prev, true
		return nil
	})
	return func() (parley.Message, bool, error) {
		if err := done(); err != nil {
			return parley.Message{}, false, err
		}
		return m, dup, nil
	}
}

// The statements of the append path (prepared in Open).
const (
	findDupSQL       = `SELECT ` + messageColumns + ` FROM messages WHERE sender_key = ? AND client_id = ? AND client_id <> ''`
	insertMessageSQL = `INSERT INTO messages (room, seq, sender, sender_key, recipient, recipient_key, text, html, mentions, client_id, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (sender_key, client_id) WHERE client_id <> '' DO NOTHING
		 RETURNING id`
	lastSeqSQL = `SELECT last_seq FROM rooms WHERE name = ?`
	saveSeqSQL = `INSERT INTO rooms (name, last_seq, created_at) VALUES (?, ?, ?)
		 ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq`
)

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// History implements parley.Store.
func (s *Store) History(ctx context.Context, room string, before int64, limit int) ([]parley.Message, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	msgs, err := s.queryMessages(ctx,
		`SELECT `+messageColumns+` FROM messages WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
		room, before, limit)
	slices.Reverse(msgs)
	return msgs, err
}

// After implements parley.Store.
func (s *Store) After(ctx context.Context, room string, after int64, limit int) ([]parley.Message, error) {
	return s.queryMessages(ctx,
		`SELECT `+messageColumns+` FROM messages WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?`,
		room, after, limit)
}

// DirectSince implements parley.Store.
func (s *Store) DirectSince(ctx context.Context, nick string, afterID int64, limit int) ([]parley.Message, error) {
	return s.queryMessages(ctx,
		`SELECT `+messageColumns+` FROM messages WHERE recipient_key = ? AND id > ? ORDER BY id LIMIT ?`,
		parley.NickKey(nick), afterID, limit)
}

func (s *Store) queryMessages(ctx context.Context, query string, args ...any) ([]parley.Message, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query messages: %w", err)
	}
	defer rows.Close()
	msgs := []parley.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: query messages: %w", err)
	}
	return msgs, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanMessage(row scanner) (parley.Message, error) {
	var (
		m        parley.Message
		mentions string
		created  int64
	)
	err := row.Scan(&m.ID, &m.Room, &m.Seq, &m.From, &m.To, &m.Text, &m.HTML, &mentions, &m.ClientID, &created, &m.Deleted, &m.DeletedBy)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(mentions), &m.Mentions); err != nil {
		return m, fmt.Errorf("sqlite: message %d mentions: %w", m.ID, err)
	}
	if len(m.Mentions) == 0 {
		m.Mentions = nil
	}
	m.CreatedAt = fromMillis(created)
	return m, nil
}
