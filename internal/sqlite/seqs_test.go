package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// A transaction that rolls back gives its seqs back: the next message
// takes the number after the last committed one, so a room's seqs have no
// hole, and a reopened store agrees.
func TestSeqsOfARolledBackBatchAreNotUsed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	appendOne := func(s *Store, text string) int64 {
		t.Helper()
		m, _, err := s.Append(ctx, parley.Message{Room: "lobby", From: "alice", Text: text, CreatedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return m.Seq
	}
	if seq := appendOne(s, "one"); seq != 1 {
		t.Fatalf("first seq %d", seq)
	}
	boom := errors.New("boom")
	err = s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		seq, err := s.seqs.next(ctx, tx, "lobby")
		if err != nil {
			return err
		}
		s.seqs.used("lobby", seq) // as an insert would, then the batch fails
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("exec = %v; want the failure", err)
	}
	if seq := appendOne(s, "two"); seq != 2 {
		t.Fatalf("after a rolled-back batch: seq %d; want 2", seq)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if seq := appendOne(s, "three"); seq != 3 {
		t.Fatalf("after reopening: seq %d; want 3", seq)
	}
}

// The writer keeps the last seq of at most seqs.max rooms; past that it
// forgets them and reads each again from the rooms table: seqs go on
// without a hole or a repeat.
func TestSeqsGoOnAfterTheWriterForgetsThem(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.seqs.max = 3 // set before any write; only the writer reads it after
	ctx := context.Background()
	for round := int64(1); round <= 3; round++ {
		for r := range 5 {
			m, _, err := s.Append(ctx, parley.Message{Room: fmt.Sprint("room", r), From: "alice", Text: "x", CreatedAt: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if m.Seq != round {
				t.Fatalf("round %d, room%d: seq %d; want %d", round, r, m.Seq, round)
			}
		}
	}
	if n := len(s.seqs.last); n > 3 {
		t.Errorf("the writer keeps %d rooms' seqs; want at most 3", n)
	}
}
