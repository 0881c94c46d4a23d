package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"time"
)

// Checkpoints — copying committed pages from the WAL back into the
// database file — run on a goroutine and connection of their own, beside
// the writer. Left to SQLite, the writer's own commit would run one
// whenever the WAL passed 1,000 pages, which under a steady stream of
// messages (each commit dirties a leaf page per busy room and per sender)
// was every few commits: a tenth of the writer's time, and a stall in the
// acks of whoever was waiting for that commit.
//
// The checkpointer runs a PASSIVE checkpoint (it never blocks the writer
// or readers) at most every checkpointEvery while commits happen. The
// writer keeps SQLite's automatic checkpoint, but at walBackstop pages:
// the WAL file starts over only after a checkpoint that caught up, which a
// checkpointer racing a writer that never pauses may never do, so when the
// WAL reaches the backstop the writer's own checkpoint — by then nearly
// everything is copied — catches up, and the WAL starts over.
const (
	checkpointEvery = 50 * time.Millisecond
	walBackstop     = 8192 // pages: 32 MiB of WAL with 4 KiB pages
)

// checkpointer runs checkpoints when kicked (after commits), at most once
// per checkpointEvery, until kicks is closed.
func (s *Store) checkpointer(db *sql.DB, kicks <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for range kicks {
		start := time.Now()
		var busy, walPages, copied int
		err := db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &walPages, &copied)
		if err != nil {
			slog.Default().Warn("sqlite: checkpoint", "err", err)
		}
		time.Sleep(checkpointEvery - time.Since(start))
	}
}

// kickCheckpoint asks for a checkpoint without waiting.
func (s *Store) kickCheckpoint() {
	select {
	case s.kicks <- struct{}{}:
	default: // one is pending already
	}
}
