package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// When writes arrive faster than they can be committed, the queue does not
// grow: a write that finds it full for queueWait is refused with
// unavailable and a retry-after hint, and what was queued still commits.
func TestOverloadedWriterRefusesWithRetryAfter(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "parley.db"), Options{MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // holds the writer, as a slow disk would
		defer wg.Done()
		_ = s.exec(ctx, func(context.Context, *sql.Tx) error { close(started); <-release; return nil })
	}()
	<-started
	queued := cap(s.reqs)
	errs := make(chan error, queued)
	for i := 0; i < queued; i++ { // fills the queue
		wg.Add(1)
		go func() { defer wg.Done(); errs <- s.exec(ctx, func(context.Context, *sql.Tx) error { return nil }) }()
	}
	for len(s.reqs) < queued {
		time.Sleep(time.Millisecond)
	}
	begin := time.Now()
	err = s.exec(ctx, func(context.Context, *sql.Tx) error { return nil })
	if parley.ErrorCode(err) != parley.EUnavailable || parley.ErrorRetryAfter(err) <= 0 || time.Since(begin) > time.Second {
		t.Errorf("write into a full queue: %v after %v; want unavailable with a retry-after, at once", err, time.Since(begin))
	}
	if s.Refused() != 1 {
		t.Errorf("Refused() = %d; want 1", s.Refused())
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a queued write failed: %v", err)
		}
	}
}
