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

const messageColumns = `id, room, seq, sender, recipient, text, html, mentions, client_id, created_at`

// Append implements parley.Store.
func (s *Store) Append(ctx context.Context, m parley.Message) (parley.Message, bool, error) {
	var dup bool
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if m.ClientID != "" {
			prev, err := scanMessage(tx.StmtContext(ctx, s.findDup).QueryRowContext(ctx, parley.NickKey(m.From), m.ClientID))
			if err == nil {
				m, dup = prev, true
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		return s.appendLocked(ctx, tx, &m)
	})
	if err != nil {
		return parley.Message{}, false, err
	}
	return m, dup, nil
}

// The statements of the append path (prepared in Open).
const (
	findDupSQL = `SELECT ` + messageColumns + ` FROM messages WHERE sender_key = ? AND client_id = ? AND client_id <> ''`
	nextSeqSQL = `INSERT INTO rooms (name, last_seq, created_at) VALUES (?, 1, ?)
		 ON CONFLICT (name) DO UPDATE SET last_seq = last_seq + 1
		 RETURNING last_seq`
	insertMessageSQL = `INSERT INTO messages (room, seq, sender, sender_key, recipient, recipient_key, text, html, mentions, client_id, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
)

// appendLocked assigns m the room's next Seq and inserts it.
func (s *Store) appendLocked(ctx context.Context, tx *sql.Tx, m *parley.Message) error {
	err := tx.StmtContext(ctx, s.nextSeq).QueryRowContext(ctx, m.Room, millis(m.CreatedAt)).Scan(&m.Seq)
	if err != nil {
		return fmt.Errorf("next seq of %s: %w", m.Room, err)
	}
	mentions, err := json.Marshal(nonNil(m.Mentions))
	if err != nil {
		return err
	}
	m.CreatedAt = fromMillis(millis(m.CreatedAt))
	err = tx.StmtContext(ctx, s.insertMsg).QueryRowContext(ctx,
		m.Room, m.Seq, m.From, parley.NickKey(m.From), m.To, parley.NickKey(m.To),
		m.Text, m.HTML, string(mentions), m.ClientID, millis(m.CreatedAt)).Scan(&m.ID)
	if err != nil {
		return fmt.Errorf("insert message: %w", err)
	}
	return nil
}

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
	err := row.Scan(&m.ID, &m.Room, &m.Seq, &m.From, &m.To, &m.Text, &m.HTML, &mentions, &m.ClientID, &created)
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
