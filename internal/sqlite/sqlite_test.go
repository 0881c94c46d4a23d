package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/sqlite"
	"github.com/parley-chat/parley/internal/storetest"
)

func open(t *testing.T, dir string) parley.Store { return openTB(t, dir) }

func openTB(t testing.TB, dir string) parley.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "parley.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestStore(t *testing.T) { storetest.Run(t, open) }

func TestOpenCreatesTheSchemaOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.db")
	for i := 0; i < 2; i++ {
		s := open(t, dir)
		_ = s.Close()
	}
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file: %v", err)
	}
	if _, err := sqlite.Open(context.Background(), path, sqlite.Options{Synchronous: "OFF"}); err == nil {
		t.Error("synchronous=OFF accepted; it would lose acknowledged writes")
	}
}

func BenchmarkAppendSerial(b *testing.B) {
	s := openTB(b, b.TempDir()).(*sqlite.Store)
	defer s.Close()
	m := parley.Message{Room: "lobby", From: "bench", Text: "hello", HTML: "<p>hello</p>", CreatedAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Append(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel shows group commit: many writers share one
// transaction and one fsync.
func BenchmarkAppendParallel(b *testing.B) {
	benchmarkAppends(b, func(i int64) parley.Message {
		return parley.Message{Room: fmt.Sprint("r", i%16), From: "bench", Text: "hello", HTML: "<p>hello</p>", ClientID: fmt.Sprint(i)}
	})
}

// BenchmarkAppendRooms is the store's share of the many-rooms load test:
// 200 senders in 100 rooms, each message with a client_id made as the web
// client makes them (a time prefix: ids sort in the order they were made),
// so that a commit writes a leaf of the (room, seq) index per room touched
// and the end of the client_id index.
func BenchmarkAppendRooms(b *testing.B) {
	benchmarkAppendRooms(b, timeOrderedID)
}

// BenchmarkAppendRoomsRandomIDs is the same with random client_ids (as a
// UUIDv4 is): each lands at a random place in the client_id index, which
// costs a page written per message.
func BenchmarkAppendRoomsRandomIDs(b *testing.B) {
	benchmarkAppendRooms(b, func(int64) string { return fmt.Sprintf("%016x", rand.Uint64()) })
}

func benchmarkAppendRooms(b *testing.B, clientID func(i int64) string) {
	benchmarkAppends(b, func(i int64) parley.Message {
		return parley.Message{Room: fmt.Sprint("room-", i%100), From: fmt.Sprint("sender-", i%200), Text: "hello from the load test", HTML: "<p>hello from the load test</p>", ClientID: clientID(i)}
	})
}

// BenchmarkAppendDirect is the store's share of parley bench --direct:
// 200 people each writing to every other in turn, so nearly every message
// is in a conversation of its own (19,900 of them) and dirties pages of
// its own in the (room, seq) index and in rooms.
func BenchmarkAppendDirect(b *testing.B) {
	benchmarkAppends(b, func(i int64) parley.Message {
		p, k := i%200, i/200
		from, to := fmt.Sprint("person-", p), fmt.Sprint("person-", (p+1+k%199)%200)
		return parley.Message{Room: parley.DMKey(from, to), From: from, To: to, Text: "hello from the load test", HTML: "<p>hello from the load test</p>", ClientID: timeOrderedID(i)}
	})
}

// timeOrderedID is a client_id made as the web client makes them.
func timeOrderedID(i int64) string {
	return strconv.FormatInt(time.Now().UnixMilli(), 36) + "-" + strconv.FormatInt(i, 10)
}

// benchmarkAppends appends message(i) for i = 1, 2, … from 64 writers per
// core, each waiting for its own commit.
func benchmarkAppends(b *testing.B, message func(i int64) parley.Message) {
	s := openTB(b, b.TempDir()).(*sqlite.Store)
	defer s.Close()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := message(n.Add(1))
			m.CreatedAt = time.Now()
			if _, _, err := s.Append(context.Background(), m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
