package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/admit"
)

// writeReq is one write: fn runs inside the writer's transaction. fn must
// find out whether it can succeed (reads, checks) before it writes: an
// error returned after a partial write would be committed with the batch.
// An error from the database itself fails the whole batch, rolled back.
type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

// writeTimeout bounds one batch transaction.
const writeTimeout = 30 * time.Second

// Admission to the writer's queue, which holds 4 × MaxBatch writes: a
// write waits at most queueWait for room, then is refused with
// unavailable and a retry-after hint, so overload is answered at once
// instead of piling up callers.
const (
	queueWait  = 100 * time.Millisecond
	retryAfter = 500 * time.Millisecond
)

// errBusy refuses a write when the queue stays full.
var errBusy = &parley.Error{Code: parley.EUnavailable, Message: "the server is storing messages as fast as it can; retry shortly", RetryAfter: retryAfter}

// exec queues fn for the writer and waits for its commit. If ctx ends
// first, exec returns ctx's error; the write may still be committed.
func (s *Store) exec(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.queue(ctx, fn)()
}

// queue puts fn in the writer's queue — writes queued one after another
// run in that order — and returns a function that waits for its commit
// (or ctx's end) and reports the outcome. A write refused at admission
// (a full queue, a closed store) reports that at once.
func (s *Store) queue(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) (wait func() error) {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	if err := s.enqueue(ctx, req); err != nil {
		return func() error { return err }
	}
	return func() error {
		select {
		case err := <-req.done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// enqueue admits req to the writer's queue, waiting at most queueWait for
// room.
func (s *Store) enqueue(ctx context.Context, req *writeReq) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed
	}
	err := admit.Send(ctx, s.reqs, req, queueWait)
	if errors.Is(err, admit.ErrFull) {
		s.refused.Add(1)
		return errBusy
	}
	return err
}

// gatherWait is how long a busy writer (one that committed within the
// last gatherWait) waits for more writes before it commits: a commit costs
// about the same for one message as for a hundred (the WAL pages and the
// fsync), so under a steady stream of sends this trades at most gatherWait
// of acknowledgement latency for far fewer commits. An idle writer
// commits at once.
const gatherWait = 2 * time.Millisecond

// writer is the one goroutine that writes. It ends when reqs is closed and
// drained (Close).
func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*writeReq, 0, s.opts.MaxBatch)
	gather := time.NewTimer(0)
	<-gather.C
	var lastCommit time.Time
	for req := range s.reqs {
		batch = append(batch[:0], req)
		open := s.drain(&batch)
		if open && len(batch) < s.opts.MaxBatch && time.Since(lastCommit) < gatherWait {
			gather.Reset(gatherWait)
		wait:
			for len(batch) < s.opts.MaxBatch {
				select {
				case r, ok := <-s.reqs:
					if !ok {
						break wait
					}
					batch = append(batch, r)
				case <-gather.C:
					break wait
				}
			}
			if !gather.Stop() {
				select { // the timer fired and nobody read it
				case <-gather.C:
				default:
				}
			}
		}
		s.commit(batch)
		s.kickCheckpoint()
		lastCommit = time.Now()
		clear(batch)
	}
}

// drain adds what is queued to batch, up to MaxBatch, without waiting; it
// reports false once reqs is closed.
func (s *Store) drain(batch *[]*writeReq) (open bool) {
	for len(*batch) < s.opts.MaxBatch {
		select {
		case r, ok := <-s.reqs:
			if !ok {
				return false
			}
			*batch = append(*batch, r)
		default:
			return true
		}
	}
	return true
}

// commit runs a batch in one transaction and answers every request.
func (s *Store) commit(batch []*writeReq) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	errs := make([]error, len(batch))
	// The transaction itself is not tied to ctx: database/sql would roll
	// it back from another goroutine when ctx ends, and a direct statement
	// (direct.go) run after that would be committed on its own. ctx bounds
	// every statement instead — database/sql's are interrupted, direct
	// ones not started — and a failed statement rolls the batch back.
	tx, err := s.direct.conn.BeginTx(context.Background(), nil)
	if err == nil {
		for i, req := range batch {
			if req.ctx.Err() != nil {
				errs[i] = req.ctx.Err() // the caller is gone: do not write for it
				continue
			}
			if errs[i] = req.fn(ctx, tx); errs[i] != nil && !isDomain(errs[i]) {
				err = errs[i]
				break
			}
		}
		if err == nil {
			err = s.seqs.save(ctx)
		}
		if err == nil {
			err = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
		s.seqs.done(err == nil)
	}
	for i, req := range batch {
		if err != nil {
			req.done <- fmt.Errorf("sqlite: write: %w", err)
		} else {
			req.done <- errs[i]
		}
	}
}
