package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// seqs numbers each room's messages. The writer goroutine owns it (every
// method runs inside a write transaction): it keeps the last seq of each
// room it has written, hands out the next ones within a transaction, and
// saves each room's new last seq once per commit instead of once per
// message. A transaction that rolls back leaves the committed numbers as
// they were.
type seqs struct {
	last    map[string]int64 // committed: room → last seq; forgotten past max rooms
	pending map[string]int64 // this transaction: room → last seq used
	max     int              // rooms kept in last (maxKnownSeqs)

	lastSeq *sql.Stmt
	// saveSeq writes a room's last seq in the writer's transaction
	// (direct.saveLastSeq).
	saveSeq func(ctx context.Context, room string, last, now int64) error
}

// maxKnownSeqs bounds the rooms whose last seq the writer keeps: every
// direct conversation is a room, and a server runs for months. Past it,
// what is kept is forgotten at once (a few MiB) and read again from the
// rooms table as each room is written next.
const maxKnownSeqs = 100_000

func newSeqs(lastSeq *sql.Stmt, saveSeq func(ctx context.Context, room string, last, now int64) error) *seqs {
	return &seqs{last: map[string]int64{}, pending: map[string]int64{}, max: maxKnownSeqs, lastSeq: lastSeq, saveSeq: saveSeq}
}

// next returns the seq the room's next message gets in tx.
func (q *seqs) next(ctx context.Context, tx *sql.Tx, room string) (int64, error) {
	if v, ok := q.pending[room]; ok {
		return v + 1, nil
	}
	if v, ok := q.last[room]; ok {
		return v + 1, nil
	}
	var v int64
	err := tx.StmtContext(ctx, q.lastSeq).QueryRowContext(ctx, room).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	q.last[room] = v
	return v + 1, nil
}

// used records that seq was given to a message of room in this
// transaction.
func (q *seqs) used(room string, seq int64) { q.pending[room] = seq }

// save writes each room's last seq of this transaction; call it last,
// before the commit.
func (q *seqs) save(ctx context.Context) error {
	now := millis(time.Now())
	for room, v := range q.pending {
		if err := q.saveSeq(ctx, room, v, now); err != nil {
			return fmt.Errorf("save the last seq of %s: %w", room, err)
		}
	}
	return nil
}

// done ends the transaction: committed, its seqs become the rooms' last;
// otherwise those rooms are read from the database again next time (a
// failed commit may or may not have been written).
func (q *seqs) done(committed bool) {
	for room, v := range q.pending {
		if committed {
			q.last[room] = v
		} else {
			delete(q.last, room)
		}
	}
	clear(q.pending)
	if len(q.last) > q.max {
		q.last = map[string]int64{} // a new map: clear would keep the old one's buckets
	}
}
