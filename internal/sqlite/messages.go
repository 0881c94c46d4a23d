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
	mentions, err := mentionsJSON(m.Mentions)
	if err != nil {
		return func() (parley.Message, bool, error) { return parley.Message{}, false, err }
	}
	p := &pendingMessage{Message: m, fromKey: parley.NickKey(m.From), toKey: parley.NickKey(m.To), mentions: mentions}
	p.created = millis(m.CreatedAt)
	p.CreatedAt = fromMillis(p.created)
	var dup bool
	done := s.queue(ctx, func(ctx context.Context, tx *sql.Tx) error {
		seq, err := s.seqs.next(ctx, tx, p.Room)
		if err != nil {
			return fmt.Errorf("next seq of %s: %w", p.Room, err)
		}
		p.Seq = seq
		id, inserted, err := s.direct.insertMessage(ctx, p)
		switch {
		case err != nil:
			return fmt.Errorf("insert message: %w", err)
		case inserted:
			p.ID = id
			s.seqs.used(p.Room, seq)
			return nil
		case p.ClientID == "":
			return errors.New("insert message: no row inserted and no client_id")
		}
		// Seen before: the original, stored earlier (maybe in this batch).
		prev, err := scanMessage(tx.StmtContext(ctx, s.findDup).QueryRowContext(ctx, p.fromKey, p.ClientID))
		if err != nil {
			return fmt.Errorf("find the original of client_id %q: %w", p.ClientID, err)
		}
		p.Message, dup = prev, true
		return nil
	})
	return func() (parley.Message, bool, error) {
		if err := done(); err != nil {
			return parley.Message{}, false, err
		}
		return p.Message, dup, nil
	}
}

// pendingMessage is a message on its way to the writer, with the values
// of its row that do not need the transaction computed before.
type pendingMessage struct {
	parley.Message
	fromKey, toKey string
	mentions       string // JSON array
	created        int64  // Unix milliseconds
}

// The statements of the append path (prepared in Open).
const (
	findDupSQL       = `SELECT ` + messageColumns + ` FROM messages WHERE sender_key = ? AND client_id = ? AND client_id <> ''`
	insertMessageSQL = `INSERT INTO messages (room, seq, sender, sender_key, recipient, recipient_key, text, html, mentions, client_id, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (sender_key, client_id) WHERE client_id <> '' DO NOTHING`
	lastSeqSQL = `SELECT last_seq FROM rooms WHERE name = ?`
	saveSeqSQL = `INSERT INTO rooms (name, last_seq, created_at) VALUES (?, ?, ?)
		 ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq`
)

// mentionsJSON is the mentions column: a JSON array, "[]" for none (most
// messages, without calling encoding/json).
func mentionsJSON(mentions []string) (string, error) {
	if len(mentions) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(mentions)
	if err != nil {
		return "", fmt.Errorf("sqlite: mentions: %w", err)
	}
	return string(b), nil
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
