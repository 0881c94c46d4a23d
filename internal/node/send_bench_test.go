package node

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/markup"
	"github.com/parley-chat/parley/internal/membroker"
)

// memStore is just enough of a Store for the send path: Append numbers
// messages in memory, so what is measured is the engine's work on a send
// (rate limit, membership, validation, room rules, rendering, publishing,
// the ack), not a disk.
type memStore struct {
	parley.Store
	mu  sync.Mutex
	seq int64
}

func (s *memStore) Append(_ context.Context, m parley.Message) (parley.Message, bool, error) {
	s.mu.Lock()
	s.seq++
	m.ID, m.Seq = s.seq, s.seq
	s.mu.Unlock()
	return m, false, nil
}
func (s *memStore) Bans(context.Context, time.Time) ([]parley.Ban, error)   { return nil, nil }
func (s *memStore) Mutes(context.Context, time.Time) ([]parley.Mute, error) { return nil, nil }
func (s *memStore) Rooms(context.Context) ([]parley.Room, error)            { return nil, nil }
func (s *memStore) Announcements(context.Context, time.Time) ([]parley.Announcement, error) {
	return nil, nil
}

// BenchmarkSend: one send by a member of a room, through Handle, on a
// store that costs nothing.
func BenchmarkSend(b *testing.B) {
	n := New(&memStore{}, membroker.New(), markup.New(), Config{Rate: 1e9, Burst: 1 << 30})
	defer n.Shutdown(context.Background())
	s := n.Connect(nopOutbox{}, benchCodec{}, Peer{Addr: "bench"})
	s.nick, s.key = "alice", "alice"
	r := newRoom("lobby")
	n.mu.Lock()
	n.rooms["lobby"] = r
	r.addLocked(s)
	n.users["alice"] = []*Session{s}
	n.mu.Unlock()
	cmd := parley.Command{Op: parley.OpSend, Room: "lobby", Text: "hello there"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n.Handle(ctx, s, cmd)
	}
}

// BenchmarkRoomRules: what the send path pays for mutes and slow mode —
// a room with neither (most), a thousand mutes elsewhere, a room in slow
// mode with the sender allowed (the window passed).
func BenchmarkRoomRules(b *testing.B) {
	n := New(&memStore{}, membroker.New(), markup.New(), Config{})
	defer n.Shutdown(context.Background())
	ctx := context.Background()
	if _, err := n.modState(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.Run("none", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = n.roomRules(ctx, "lobby", "alice", parley.RoleUser, now)
		}
	})
	for i := range 1000 {
		n.applyMod(&parley.Event{Kind: parley.EventMuted, Room: "other", Nickname: "m" + strconv.Itoa(i), Mute: &parley.Mute{Room: "other", Nickname: "m" + strconv.Itoa(i)}})
	}
	b.Run("1000 mutes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = n.roomRules(ctx, "lobby", "alice", parley.RoleUser, now)
		}
	})
	n.applyMod(&parley.Event{Kind: parley.EventRoomSettings, Room: "lobby", Settings: &parley.RoomSettings{SlowMode: time.Second}})
	t := now
	b.Run("slow mode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t = t.Add(time.Second)
			if err := n.roomRules(ctx, "lobby", "alice", parley.RoleUser, t); err != nil {
				b.Fatal(err)
			}
		}
	})
}
