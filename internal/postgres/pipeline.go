package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/admit"
)

// Pipelined appends. QueueAppend hands a message to the store's one
// writer goroutine and returns at once; the caller waits later. The writer
// takes what is queued (at most maxBatch) and stores the batch's messages,
// room and direct alike, in one transaction — one commit, one WAL flush
// for all of them:
//
//  1. the batch's client_ids already stored (one query) are answered with
//     their originals, and a client_id repeated within the batch with the
//     message of its first;
//  2. the advisory locks of the people of the batch's direct messages are
//     taken, in key order (see the package comment: a person's direct
//     messages take their IDs and commit one transaction after another);
//  3. each conversation's block of seqs is taken with one upsert of the
//     rooms rows (last_seq + the conversation's count), in name order;
//     the row locks keep other writers of those rooms waiting until the
//     commit, as Append's do;
//  4. the messages are inserted with their seqs, in queue order, in one
//     round trip.
//
// Every writer takes its locks in one order — people's advisory locks in
// key order, then rooms rows in name order (Append: a direct message's two
// people, then its row) — so two nodes' batches never deadlock.
//
// If another node stores one of the batch's client_ids between 1 and 4,
// the insert meets the unique index, the whole transaction is rolled back
// (seqs included) and the batch's messages are appended one at a time
// (Append, which finds the other's message), one at a time within a
// conversation and conversations side by side. Messages queued one after
// another keep their order within their conversation, which is all the
// order a seq promises.
const (
	maxBatch     = 256
	queueWait    = 100 * time.Millisecond // a full queue refuses after this
	batchTimeout = 10 * time.Second       // one batch transaction
)

// errBusy refuses a queued append when the writer's queue stays full.
var errBusy = &parley.Error{Code: parley.EUnavailable, Message: "the server is storing messages as fast as it can; retry shortly", RetryAfter: 500 * time.Millisecond}

// appendReq is one queued append and where its outcome goes.
type appendReq struct {
	ctx  context.Context
	m    parley.Message
	done chan appendResult // capacity 1
}

type appendResult struct {
	m   parley.Message
	dup bool
	err error
}

func (r *appendReq) answer(m parley.Message, dup bool, err error) {
	r.done <- appendResult{m, dup, err}
}

// QueueAppend puts m in the writer's queue now and returns a function that
// waits for the outcome of Append (or ctx's end). Messages queued one
// after another are stored in that order within their conversation — a
// room's seqs follow it — so a connection may queue its next message
// while the one before waits for its commit. A full queue (the database
// is behind) refuses after 100 ms with EUnavailable; so does a closed
// Store.
func (s *Store) QueueAppend(ctx context.Context, m parley.Message) (wait func() (parley.Message, bool, error)) {
	req := &appendReq{ctx: ctx, m: m, done: make(chan appendResult, 1)}
	if err := s.enqueue(ctx, req); err != nil {
		return func() (parley.Message, bool, error) { return parley.Message{}, false, err }
	}
	return func() (parley.Message, bool, error) {
		select {
		case r := <-req.done:
			return r.m, r.dup, r.err
		case <-ctx.Done():
			return parley.Message{}, false, ctx.Err()
		}
	}
}

// enqueue admits req to the writer's queue, waiting at most queueWait for
// room.
func (s *Store) enqueue(ctx context.Context, req *appendReq) error {
	s.queueMu.RLock()
	defer s.queueMu.RUnlock()
	if s.closed.Load() {
		return errClosed
	}
	err := admit.Send(ctx, s.reqs, req, queueWait)
	if errors.Is(err, admit.ErrFull) {
		return errBusy
	}
	return err
}

// writer stores what is queued, a batch at a time, until Close closes the
// queue and it is drained.
func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*appendReq, 0, maxBatch)
	for req := range s.reqs {
		batch = append(batch[:0], req)
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.storeBatch(batch)
		clear(batch)
	}
}

// storeBatch answers every request of batch.
func (s *Store) storeBatch(batch []*appendReq) {
	queued := batch[:0] // in place: the writer clears batch after
	for _, r := range batch {
		if r.ctx.Err() != nil {
			r.answer(parley.Message{}, false, r.ctx.Err()) // the caller is gone: do not write for it
			continue
		}
		queued = append(queued, r)
	}
	switch len(queued) {
	case 0:
		return
	case 1: // light load: the one-statement path
		s.appendEach(queued)
		return
	}
	err := s.storeQueued(queued)
	switch {
	case err == nil:
	case isClientIDConflict(err): // rolled back: one at a time, each finds what the other node stored
		s.appendEach(queued)
	default:
		err = s.wrap(err, fmt.Sprintf("append %d messages", len(queued)))
		for _, r := range queued {
			r.answer(parley.Message{}, false, err)
		}
	}
}

// appendEach appends reqs one at a time within a conversation, and
// conversations side by side (as many as the pool has connections); a
// single conversation — the common case under light load — on the
// writer's own goroutine.
func (s *Store) appendEach(reqs []*appendReq) {
	run := func(rs []*appendReq) {
		for _, r := range rs {
			r.answer(s.appendOne(r.ctx, r.m))
		}
	}
	if len(reqs) == 0 || !slices.ContainsFunc(reqs, func(r *appendReq) bool { return r.m.Room != reqs[0].m.Room }) {
		run(reqs)
		return
	}
	byConversation := map[string][]*appendReq{}
	for _, r := range reqs {
		byConversation[r.m.Room] = append(byConversation[r.m.Room], r)
	}
	var wg sync.WaitGroup
	for _, rs := range byConversation {
		wg.Go(func() { run(rs) })
	}
	wg.Wait()
}

// isClientIDConflict reports whether err is the unique index of client_ids
// refusing a row: another transaction stored the same one first.
func isClientIDConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "messages_client_id"
}

// The statements of a batch (see the comment at the top).
const (
	seenSQL = `SELECT sender_key, ` + messageColumns + ` FROM messages
		WHERE client_id <> '' AND (client_id, sender_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`
	lockPeopleBatchSQL = `SELECT pg_advisory_xact_lock($1::int4, k) FROM unnest($2::int4[]) AS t(k)`
	takeSeqsSQL        = `INSERT INTO rooms AS r (name, last_seq, created_at)
		SELECT name, n, date_trunc('milliseconds', now()) FROM unnest($1::text[], $2::int8[]) AS t(name, n)
		ON CONFLICT (name) DO UPDATE SET last_seq = r.last_seq + excluded.last_seq
		RETURNING name, last_seq`
	insertSQL = `INSERT INTO messages (room, seq, sender, sender_key, recipient, recipient_key, text, html, mentions, client_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		RETURNING ` + messageColumns
)

// batched is a message of a batch on its way.
type batched struct {
	req     *appendReq
	fromKey string
	dupOf   int            // -1, or the index in the batch of the first with this client_id
	prev    parley.Message // stored before, if seen
	seen    bool
	stored  parley.Message
}

type clientKey struct{ clientID, senderKey string }

// storeQueued stores reqs in queue order in one transaction and answers
// each; on an error it answers none (nothing was committed, unless the
// commit itself failed, which is reported so).
func (s *Store) storeQueued(reqs []*appendReq) error {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }() // nothing after a commit

	items := make([]batched, len(reqs))
	var clientIDs, senders []string
	for i, r := range reqs {
		items[i] = batched{req: r, fromKey: parley.NickKey(r.m.From), dupOf: -1}
		if r.m.ClientID != "" {
			clientIDs, senders = append(clientIDs, r.m.ClientID), append(senders, items[i].fromKey)
		}
	}
	// 1. client_ids stored before, or earlier in this batch.
	seen := map[clientKey]parley.Message{}
	if len(clientIDs) > 0 {
		rows, _ := tx.Query(ctx, seenSQL, clientIDs, senders) // an error comes back from ForEachRow
		var (
			key string
			m   parley.Message
		)
		if _, err := pgx.ForEachRow(rows, []any{&key, &m.ID, &m.Room, &m.Seq, &m.From, &m.To, &m.Text, &m.HTML, &m.Mentions, &m.ClientID, &m.CreatedAt, &m.Deleted, &m.DeletedBy}, func() error {
			seen[clientKey{m.ClientID, key}] = tidy(m)
			return nil
		}); err != nil {
			return err
		}
	}
	first := map[clientKey]int{}
	counts := map[string]int64{}
	for i := range items {
		b := &items[i]
		if id := b.req.m.ClientID; id != "" {
			k := clientKey{id, b.fromKey}
			if prev, ok := seen[k]; ok {
				b.prev, b.seen = prev, true
				continue
			}
			if j, ok := first[k]; ok {
				b.dupOf = j
				continue
			}
			first[k] = i
		}
		counts[b.req.m.Room]++
	}
	// 2. the people of the direct messages to store, in key order; locks
	// that two people share (a hash) taken once.
	var locks []int32
	for i := range items {
		b := &items[i]
		if b.seen || b.dupOf >= 0 {
			continue
		}
		if x, y, direct := people(b.req.m.Room, b.fromKey, parley.NickKey(b.req.m.To)); direct {
			locks = append(locks, x, y)
		}
	}
	if len(locks) > 0 {
		slices.Sort(locks)
		if _, err := tx.Exec(ctx, lockPeopleBatchSQL, personLockSpace, slices.Compact(locks)); err != nil {
			return err
		}
	}
	// 3. each conversation's block of seqs, in name order.
	next := map[string]int64{}
	if len(counts) > 0 {
		names := make([]string, 0, len(counts))
		for name := range counts {
			names = append(names, name)
		}
		slices.SortFunc(names, cmp.Compare)
		ns := make([]int64, len(names))
		for i, name := range names {
			ns[i] = counts[name]
		}
		rows, _ := tx.Query(ctx, takeSeqsSQL, names, ns) // as above
		var (
			name string
			last int64
		)
		if _, err := pgx.ForEachRow(rows, []any{&name, &last}, func() error {
			next[name] = last - counts[name] + 1
			return nil
		}); err != nil {
			return err
		}
	}
	// 4. the messages, in one round trip.
	batch := &pgx.Batch{}
	for i := range items {
		b := &items[i]
		if b.seen || b.dupOf >= 0 {
			continue
		}
		m := b.req.m
		seq := next[m.Room]
		next[m.Room]++
		mentions := m.Mentions
		if mentions == nil {
			mentions = []string{}
		}
		batch.Queue(insertSQL, m.Room, seq, m.From, b.fromKey, m.To, parley.NickKey(m.To), m.Text, m.HTML, mentions, m.ClientID, ms(m.CreatedAt)).
			QueryRow(func(row pgx.Row) error {
				var err error
				b.stored, err = scanMessage(row)
				return err
			})
	}
	if batch.Len() > 0 {
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		// The outcome is not known: answer every message with the error
		// (a resend with the same client_id finds it if it was stored).
		err = s.wrap(err, fmt.Sprintf("commit %d messages", len(reqs)))
		for _, r := range reqs {
			r.answer(parley.Message{}, false, err)
		}
		return nil
	}
	for i := range items {
		b := &items[i]
		switch {
		case b.seen:
			b.req.answer(b.prev, true, nil)
		case b.dupOf >= 0:
			b.req.answer(items[b.dupOf].stored, true, nil)
		default:
			b.req.answer(b.stored, false, nil)
		}
	}
	return nil
}
